"""Observed convergence order on a smooth scalar ODE (Wizadwongsa et al. 2024, App. F, Theorems 1–2).

Toy (our choice of a smooth ODE): x' = −x² + cos s, s ∈ [0, 2], x(0) = 0.5, uniform grid of N steps.
Observed order between N and 2N: p = log2(err_N / err_2N), err = |x_N − x(2)| against RK4 with
``reference_steps`` steps. Theorem 1: HB with β ≠ 1 is first order; Theorem 2: GHVB-r has order r.
With the official low-order warm-up (AB1 → AB2 → …, velocity started at e_0) the global order is
capped at 2 (one Euler step costs O(δ²)); exact starting values restore AB3/AB4 orders 3/4.
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch

from steplab.device import resolve_device
from steplab.diffusion.methods import parse_method
from steplab.diffusion.metrics import rk4
from steplab.diffusion.samplers import integrate
from steplab.validation import check_int

T_END = 2.0
X_START = 0.5


def smooth_rhs(x: torch.Tensor, s) -> torch.Tensor:
    """f(x, s) = −x² + cos s."""
    return -x * x + torch.cos(torch.as_tensor(s, dtype=x.dtype, device=x.device))


def exact_states(times: torch.Tensor, substeps: int = 400) -> torch.Tensor:
    """x(t) at each of ``times`` (increasing from 0) by RK4 with ``substeps`` steps per interval, [len, 1], on the
    device of ``times``."""
    x = torch.tensor([X_START], dtype=torch.float64, device=times.device)
    states, previous = [], 0.0
    for t in times.tolist():
        if t > previous:
            x = rk4(smooth_rhs, x, torch.linspace(previous, t, substeps + 1, dtype=torch.float64))
        states.append(x)
        previous = t
    return torch.stack(states)


@lru_cache(maxsize=1)
def reference_value(steps: int = 4000) -> float:
    """x(2) by RK4 with ``steps`` steps (error ≈ 1e-14)."""
    return float(exact_states(torch.tensor([T_END]), steps)[0, 0])


def final_error(method: str, steps: int, exact_start: bool = False, reference: float | None = None,
                device=None) -> float:
    """|x_N − x(2)| for ``method`` with N uniform steps (``exact_start``: PLMS from exact starting values).

    One number per step: ``device=None`` resolves with the CPU fast path (:func:`steplab.device.resolve_device`).
    """
    check_int("steps", steps, 1)
    device = resolve_device(device, work_items=1)
    grid = torch.linspace(0.0, T_END, steps + 1, dtype=torch.float64, device=device)
    reference = reference_value() if reference is None else reference
    start = None
    if exact_start:
        order = parse_method(method).order
        start = exact_states(grid[1:order]) if order > 1 else None
    x = integrate(smooth_rhs, torch.tensor([X_START], dtype=torch.float64, device=device), grid, method,
                  exact_start=start)
    return abs(float(x[0]) - reference)


def observed_order(method: str, steps=(640, 1280), exact_start: bool = False, device=None) -> float:
    """Least-squares slope of −log2(error) against log2(N) over ``steps`` (two N give log2(e_N/e_2N))."""
    reference = reference_value()
    logs_n = [math.log2(n) for n in steps]
    logs_e = [math.log2(final_error(method, n, exact_start, reference, device)) for n in steps]
    mean_n, mean_e = sum(logs_n) / len(logs_n), sum(logs_e) / len(logs_e)
    slope = sum((a - mean_n) * (b - mean_e) for a, b in zip(logs_n, logs_e)) / sum((a - mean_n) ** 2 for a in logs_n)
    return -slope
