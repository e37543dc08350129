"""Linear convergence rates of GD and heavy ball on quadratics, in closed form and measured.

On f(x) = 1/2 x^T A x each eigen-direction with eigenvalue lambda evolves independently.

* GD:          z_{t+1} = (1 - eta lambda) z_t,                 rate = max_i |1 - eta lambda_i|.
* Heavy ball:  z_{t+1} = (1 + beta - eta lambda) z_t - beta z_{t-1}, rate = the largest root
  modulus of r^2 - (1 + beta - eta lambda) r + beta = 0 over all lambda (Polyak 1964; Goh 2017).
  Critical damping (double root) at beta = (1 - sqrt(eta lambda))^2.
"""

from __future__ import annotations

import torch

Tensor = torch.Tensor


def _as_tensor(x) -> Tensor:
    return torch.as_tensor(x, dtype=torch.float64)


def gd_rate(eta, eigenvalues) -> Tensor:
    """max_i |1 - eta lambda_i| for every eta (any shape): returns a tensor shaped like eta."""
    eta = _as_tensor(eta)
    lam = _as_tensor(eigenvalues)
    return (1 - eta.unsqueeze(-1) * lam).abs().amax(-1)


def heavy_ball_rate(eta, beta, eigenvalues) -> Tensor:
    """Spectral radius of heavy ball's 2x2 iteration, maximised over eigenvalues.

    ``eta`` and ``beta`` broadcast against each other (e.g. a [n_beta, n_eta] grid).
    """
    eta, beta = torch.broadcast_tensors(_as_tensor(eta), _as_tensor(beta))
    lam = _as_tensor(eigenvalues)
    trace = (1 + beta.unsqueeze(-1) - eta.unsqueeze(-1) * lam).to(torch.complex128)
    det = beta.unsqueeze(-1).to(torch.complex128).expand_as(trace)
    root = torch.sqrt(trace**2 - 4 * det)
    modulus = torch.maximum(((trace + root) / 2).abs(), ((trace - root) / 2).abs())
    return modulus.amax(-1).real.to(torch.float64)


def critical_damping_beta(eta, eigenvalue) -> Tensor:
    """beta at which heavy ball is critically damped for one eigenvalue: (1 - sqrt(eta lambda))^2."""
    return (1 - torch.sqrt(_as_tensor(eta) * _as_tensor(eigenvalue))) ** 2


def measured_rate(distances: Tensor, start: int, end: int) -> Tensor:
    """Geometric-mean contraction per step from ``distances[t]`` (shape [T + 1, runs]).

    rate = (d_end / d_start)^(1 / (end - start)).
    """
    if not 0 <= start < end < distances.shape[0]:
        raise ValueError(f"need 0 <= start < end < {distances.shape[0]}, got start={start}, end={end}")
    return (distances[end] / distances[start]) ** (1.0 / (end - start))
