"""Diffusion ODE samplers with momentum (Wizadwongsa et al. 2024), batched over samples, on any device.

All multistep methods solve the ε-form ODE dx̄/dσ = ε̄(x̄, σ) (their Eq. 2) on a decreasing grid
σ_0 > … > σ_N, δ_n = σ_{n+1} − σ_n < 0; e_n = ε̄(x̄_n, σ_n) is one model evaluation (NFE) per step.

* PLMS-k = Adams–Bashforth k (Eq. 9, Alg. 1): x_{n+1} = x_n + δ Σ_j b_j e_{n−j}; warm-up AB1 → AB2 → …
  (order = min(k, stored evaluations), as in the official code). PLMS1 = Euler = DDIM (Eq. 7).
* HB on PLMS-k (Eq. 14): v_{n+1} = (1−β) v_n + β Σ_j b_j e_{n−j}, x_{n+1} = x_n + δ v_{n+1}; v_1 = e_0.
* Nesterov (Eq. 49): v as in HB with p = Σ b_j e_{n−j}; x_{n+1} = x_n + δ[(1−β) v_{n+1} + β p].
* GHVB-k (Eqs. 15–19, Alg. 2): v_{n+1} = (1−β) v_n + β e_n (v_1 = e_0) stored in the buffer,
  x_{n+1} = x_n + (δ/β) M_k(β; v_{n+1}, v_n, …); warm-up GHVB-j with the same β.
* DPM-Solver++(2M) (Lu et al. 2022) on D = x̄ − σ ε̄ with λ = −log σ, h = λ_{n+1} − λ_n, r = h_{n−1}/h:
  x̄_{n+1} = e^{−h} x̄_n + (1 − e^{−h}) [D_n + (D_n − D_{n−1})/(2r)]; the first step (and the last when
  N < 15, or when σ_N = 0) is first order. DPM-Solver++ with HB replaces the bracket by
  v ← (1−β) v + β·bracket (v = bracket on the first second-order step); first-order steps carry no momentum.

**Two heavy balls.** Every momentum here is the paper's *damped average* v ← (1−β) v + β p
(:func:`damped_average`): β ∈ (0, 1] is a damping coefficient, β = 1 means no momentum. The optimizers'
:func:`steplab.transforms.heavy_ball` is PyTorch's u ← μ u + g, x ← x − η u, where μ is a momentum
(μ = 0 means none). They are the same recursion under u = v/β, μ = 1 − β, g = p, η = −βδ, except for the
start: the paper sets v = p on the first step (u = p/β), PyTorch starts from u = 0 (u = g).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from steplab.diffusion.methods import Method, ab_coefficients, ghvb_coefficients, parse_method
from steplab.diffusion.schedule import sigma_grid, start_scale
from steplab.validation import check_int, check_nonnegative

OdeFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
WARMUPS = ("euler", "heun")
LOWER_ORDER_FINAL_BELOW = 15  # DPM-Solver++: last step first order when N < 15 (diffusers' default, official code)


def _combine(coefficients: tuple[tuple[float, ...], float], buffer: list[torch.Tensor]) -> torch.Tensor:
    """Σ_j c_j buffer[−1−j] / denominator (newest entry last in ``buffer``)."""
    numerators, denominator = coefficients
    if len(numerators) == 1 and numerators[0] == 1.0 and denominator == 1.0:
        return buffer[-1]
    total = buffer[-1] * numerators[0]
    for j in range(1, len(numerators)):
        total.add_(buffer[-1 - j], alpha=numerators[j])  # fused multiply-add: one pass per buffer entry
    return total.div_(denominator)


def damped_average(velocity: torch.Tensor | None, value: torch.Tensor, damping: float) -> torch.Tensor:
    """The paper's momentum velocity v ← (1 − β) v + β·value, β = ``damping`` (Wizadwongsa et al. 2024, Eq. 14).

    ``velocity=None`` (the first step) returns ``value`` (v_1 = p_0, as in the official code); ``damping == 1``
    returns ``value`` without computing 0·v (so a diverged, infinite v cannot turn the result into NaN).
    Not :func:`steplab.transforms.heavy_ball`'s u ← μu + g: see the module docstring for the mapping.
    """
    if velocity is None or damping == 1.0:
        return value
    return torch.add(velocity * (1.0 - damping), value, alpha=damping)  # (1 − β) v + β value


def integrate(f: OdeFn, x0: torch.Tensor, grid: torch.Tensor, method: str | Method, *, return_path: bool = False,
              warmup: str = "euler", exact_start: torch.Tensor | None = None,
              lower_order_final: bool | None = None):
    """Solve dx/dt = f(x, t) from ``x0`` along ``grid`` [N+1] with ``method``; return x_N (and the path).

    ``warmup="heun"`` replaces the first PLMS step by diffusers' PNDM 2-NFE Heun step (cross-checks only).
    ``exact_start`` [j, *x0.shape]: states at grid[1..j] used as starting values (AB with exact starts).
    Computes on ``x0``'s device (the grid is moved there once; no host synchronisation per step).
    Returns ``x_N`` or ``(x_N, path)`` with path [N+1, *x0.shape].
    """
    method = parse_method(method)
    if warmup not in WARMUPS:
        raise ValueError(f"warmup must be one of {', '.join(WARMUPS)}, got {warmup!r}")
    steps = len(grid) - 1
    check_int("steps", steps, 1)
    deltas = (grid[1:] - grid[:-1]).tolist()  # read where the grid was given (the host), before it moves
    sig = grid.tolist()
    grid = grid.to(device=x0.device)
    path = torch.empty((steps + 1, *x0.shape), dtype=x0.dtype, device=x0.device) if return_path else None
    if path is not None:
        path[0] = x0
    if method.family.startswith("dpm"):
        if warmup != "euler" or exact_start is not None:
            raise ValueError("warmup/exact_start apply to the multistep (PLMS/HB/NT/GHVB) methods only")
        final_low = steps < LOWER_ORDER_FINAL_BELOW if lower_order_final is None else lower_order_final
        x = _dpm_solver(f, x0, grid, sig, method, path, final_low)
    else:
        x = _multistep(f, x0, grid, deltas, method, path, warmup, exact_start)
    return (x, path) if return_path else x


def _multistep(f, x, grid, deltas, method: Method, path, warmup, exact_start):
    """PLMS-k, HB, Nesterov and GHVB (module docstring) from ``x`` along ``grid``; fills ``path`` if given."""
    k, damping, family = method.order, method.beta, method.family
    if (warmup != "euler" or exact_start is not None) and family != "plms":
        raise ValueError("warmup='heun' and exact_start are implemented for plain PLMS only")
    buffer: list[torch.Tensor] = []  # newest last: e_{n−k+1..n} (PLMS/HB/NT) or v_{n−k+2..n+1} (GHVB)
    velocity = None
    n_exact = 0 if exact_start is None else len(exact_start)
    for n, delta in enumerate(deltas):
        e = f(x, grid[n])  # e_n = ε̄(x̄_n, σ_n), the step's one NFE
        if n < n_exact:  # exact starting values: store the evaluation, jump to the exact state
            buffer.append(e)
            x = exact_start[n]
        elif family == "ghvb":
            velocity = damped_average(velocity, e, damping)  # v_{n+1} = (1 − β) v_n + β e_n
            buffer = (buffer + [velocity])[-k:]
            # x_{n+1} = x_n + (δ/β) M_j(β; v_{n+1}, v_n, …), j = min(k, stored velocities)
            x = torch.add(x, _combine(ghvb_coefficients(len(buffer), damping), buffer), alpha=delta / damping)
        elif n == 0 and warmup == "heun":  # PNDM (diffusers) first step: Heun with 2 NFE
            predictor = f(x + delta * e, grid[1])  # ε̄ at the Euler predictor x_n + δ e_n
            buffer.append(e)
            x = x + delta * ((predictor + e) / 2)  # x_{n+1} = x_n + δ (e_n + ε̄(predictor))/2
        else:
            buffer = (buffer + [e])[-k:]
            p = _combine(ab_coefficients(len(buffer)), buffer)  # p_n = Σ_j b_j e_{n−j}, AB-j, j = min(k, stored)
            if family == "plms":
                x = torch.add(x, p, alpha=delta)  # x_{n+1} = x_n + δ p_n
            else:
                velocity = damped_average(velocity, p, damping)  # v_{n+1} = (1 − β) v_n + β p_n
                if family == "hb":
                    x = torch.add(x, velocity, alpha=delta)  # x_{n+1} = x_n + δ v_{n+1}
                else:  # x_{n+1} = x_n + δ [(1 − β) v_{n+1} + β p_n]  (Nesterov, Eq. 49)
                    x = torch.add(x, damped_average(velocity, p, damping), alpha=delta)
        buffer = buffer[-k:]
        if path is not None:
            path[n + 1] = x
    return x


def _dpm_solver(f, x, sigmas, sig: list[float], method: Method, path, lower_order_final: bool):
    """DPM-Solver++(2M), with the damped average on its second-order bracket for ``dpm++hb`` (module docstring);
    ``sig`` are the ``sigmas`` as numbers (read on the host once)."""
    damping = method.beta
    if min(sig[:-1]) <= 0 or sig[-1] < 0:
        raise ValueError("DPM-Solver++ needs positive noise levels sigma (the last may be 0)")
    steps = len(sig) - 1
    previous_d, previous_h, velocity = None, None, None
    for n in range(steps):
        s, s_next = sig[n], sig[n + 1]
        d = x - s * f(x, sigmas[n])  # D_n = x̄_n − σ_n ε̄(x̄_n, σ_n), the predicted clean sample
        if s_next == 0.0:
            x = d  # σ_{n+1} = 0: x̄_{n+1} = D_n
        else:
            h = math.log(s) - math.log(s_next)  # h = λ_{n+1} − λ_n, λ = −log σ
            ratio = s_next / s  # e^{−h}
            if previous_d is None or (lower_order_final and n == steps - 1):
                bracket = d  # first order: D_n
            else:
                # D_n + (D_n − D_{n−1})/(2r), r = h_{n−1}/h
                bracket = d + (d - previous_d) / (2.0 * (previous_h / h))
                if method.family == "dpm++hb":
                    velocity = damped_average(velocity, bracket, damping)  # v ← (1 − β) v + β·bracket
                    bracket = velocity
            x = ratio * x + (1.0 - ratio) * bracket  # x̄_{n+1} = e^{−h} x̄_n + (1 − e^{−h})·bracket
            previous_h = h
        previous_d = d
        if path is not None:
            path[n + 1] = x
    return x


def model_eps_fn(model, guidance: float = 0.0, class_labels: torch.Tensor | None = None) -> OdeFn:
    """ε̄(x̄, σ) from a :class:`~steplab.diffusion.gmm.GaussianMixture` (or any object with ``eps_fn``) or a callable."""
    check_nonnegative("guidance", guidance)
    if hasattr(model, "eps_fn"):
        return model.eps_fn(class_labels, guidance)
    if callable(model):
        return model
    raise ValueError("model must be a GaussianMixture or a callable eps(x_bar, sigma)")


def sample(model, method: str, steps: int, guidance: float = 0.0, x_T: torch.Tensor | None = None,
           class_labels: torch.Tensor | None = None, return_path: bool = False, spacing: str = "linear",
           sigmas: torch.Tensor | None = None, **options):
    """Sample the guided ε-ODE from pure noise ``x_T`` [batch, d] with ``method`` in ``steps`` NFE.

    Starts at x̄ = x_T/√ᾱ_999 and returns x̄ at t = 0 (σ ≈ 0.01): ``samples`` [batch, d] or
    ``(samples, path)`` with path [N+1, batch, d] (the x̄ iterates). ``sigmas`` overrides the grid.
    """
    check_int("steps", steps, 1)
    check_nonnegative("guidance", guidance)
    if x_T is None:
        raise ValueError("x_T (the starting noise, [batch, d]) is required")
    grid = sigma_grid(steps, spacing) if sigmas is None else sigmas
    if len(grid) != steps + 1:
        raise ValueError(f"sigmas must have steps + 1 = {steps + 1} entries, got {len(grid)}")
    eps = model_eps_fn(model, guidance, class_labels)
    x0 = x_T * start_scale(grid[0]).to(dtype=x_T.dtype, device=x_T.device)
    return integrate(eps, x0, grid, method, return_path=return_path, **options)  # integrate moves the grid
