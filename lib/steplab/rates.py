"""Linear convergence rates of GD and heavy ball on quadratics, in closed form and measured.

On f(x) = 1/2 x^T A x each eigen-direction with eigenvalue lambda evolves independently.

* GD:          z_{t+1} = (1 - eta lambda) z_t,                 rate = max_i |1 - eta lambda_i|.
* Heavy ball:  z_{t+1} = (1 + beta - eta lambda) z_t - beta z_{t-1}, rate = the largest root
  modulus of r^2 - (1 + beta - eta lambda) r + beta = 0 over all lambda (Polyak 1964; Goh 2017).
  Critical damping (double root) at beta = (1 - sqrt(eta lambda))^2.
* Stability edges (largest stable step when lambda_max = L): GD 2/L; heavy ball 2(1 + beta)/L (the
  root r = -1 of the heavy-ball polynomial, 1 + (1 + beta - eta L) + beta = 0); Nesterov
  2(1 + beta)/((1 + 2 beta) L) (the same condition for x_{t+1} = (1 + beta)(1 - eta L) x_t - beta (1 - eta L) x_{t-1}).
* Measured rate: the geometric-mean contraction of a distance over a window, (d_end / d_start)^(1/(end - start)).
"""

from __future__ import annotations

import torch

from steplab.device import resolve_device

Tensor = torch.Tensor


def _device(*values, device=None) -> torch.device:
    """Where a closed form is evaluated: ``device`` if given, else where its tensor inputs are, else
    :func:`steplab.device.resolve_device` (these are a few numbers: the CPU fast path applies)."""
    if device is None:
        for value in values:
            if isinstance(value, Tensor):
                return value.device
    return resolve_device(device, work_items=1)


def _as_tensor(x, device=None) -> Tensor:
    return torch.as_tensor(x, dtype=torch.float64, device=device)


def gd_rate(eta, eigenvalues, *, device=None) -> Tensor:
    """max_i |1 - eta lambda_i| for every eta (any shape): returns a tensor shaped like eta."""
    device = _device(eta, eigenvalues, device=device)
    eta = _as_tensor(eta, device)
    lam = _as_tensor(eigenvalues, device)
    return (1 - eta.unsqueeze(-1) * lam).abs().amax(-1)


def heavy_ball_rate(eta, beta, eigenvalues, *, device=None) -> Tensor:
    """Spectral radius of heavy ball's 2x2 iteration, maximised over eigenvalues.

    ``eta`` and ``beta`` broadcast against each other (e.g. a [n_beta, n_eta] grid).
    """
    device = _device(eta, beta, eigenvalues, device=device)
    eta, beta = torch.broadcast_tensors(_as_tensor(eta, device), _as_tensor(beta, device))
    lam = _as_tensor(eigenvalues, device)
    trace = (1 + beta.unsqueeze(-1) - eta.unsqueeze(-1) * lam).to(torch.complex128)
    det = beta.unsqueeze(-1).to(torch.complex128).expand_as(trace)
    root = torch.sqrt(trace**2 - 4 * det)
    modulus = torch.maximum(((trace + root) / 2).abs(), ((trace - root) / 2).abs())
    return modulus.amax(-1).real.to(torch.float64)


def critical_damping_beta(eta, eigenvalue, *, device=None) -> Tensor:
    """beta at which heavy ball is critically damped for one eigenvalue: (1 - sqrt(eta lambda))^2."""
    device = _device(eta, eigenvalue, device=device)
    return (1 - torch.sqrt(_as_tensor(eta, device) * _as_tensor(eigenvalue, device))) ** 2


def stability_limit(method: str, beta: float, smoothness: float) -> float:
    """Largest stable step on a quadratic with lambda_max = L (``method``: gd, heavy_ball or nesterov).

    GD: 2/L; heavy ball: 2(1 + beta)/L (Polyak 1964); Nesterov: 2(1 + beta)/((1 + 2 beta) L).
    """
    beta = 0.0 if method == "gd" else beta
    if method == "nesterov":
        return 2 * (1 + beta) / ((1 + 2 * beta) * smoothness)  # eta < 2(1 + beta)/((1 + 2 beta) L)
    return 2 * (1 + beta) / smoothness  # eta < 2(1 + beta)/L (beta = 0: 2/L)


def stability_limit_formula(method: str, beta: float) -> str:
    """The formula :func:`stability_limit` evaluates, as text: ``'2/L'``, ``'2(1+β)/L'`` or Nesterov's."""
    if method == "gd" or beta == 0:
        return "2/L"
    if method == "heavy_ball":
        return "2(1+β)/L"
    return "2(1+β)/((1+2β)L)"


def stability_map(eigenvalues, etas: Tensor, betas: Tensor) -> Tensor:
    """Heavy-ball rate on the grid ``betas`` x ``etas``: [len(betas), len(etas)], one batched closed-form call
    on the grid's device."""
    return heavy_ball_rate(etas.reshape(1, -1), betas.reshape(-1, 1), eigenvalues)


def measured_rate(distances: Tensor, start: int, end: int) -> Tensor:
    """Geometric-mean contraction per step from ``distances[t]`` (shape [T + 1, runs]).

    rate = (d_end / d_start)^(1 / (end - start)).
    """
    if not 0 <= start < end < distances.shape[0]:
        raise ValueError(f"need 0 <= start < end < {distances.shape[0]}, got start={start}, end={end}")
    return (distances[end] / distances[start]) ** (1.0 / (end - start))  # (d_end / d_start)^(1/(end - start))


def second_half_rate(distances: Tensor, end: int | None = None) -> Tensor:
    """:func:`measured_rate` over the second half [end // 2, end] of the first ``end`` steps (default: all).

    Skipping the first half drops the transient of the faster-decaying directions, so on a quadratic the
    value approaches the slowest direction's rate. Used by the tour's rate table and the playground.
    """
    end = distances.shape[0] - 1 if end is None else end
    return measured_rate(distances, end // 2, end)
