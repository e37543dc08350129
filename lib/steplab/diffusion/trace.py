"""Three steps of HB and GHVB on AB3 written out by hand, against the samplers (Wizadwongsa et al. 2024, Eqs.
14–19, Alg. 1–2; the official code's start v_1 = e_0 and order min(k, stored evaluations)).

Plain Python floats on x' = −x² + cos t, x_0 = 0.5, a non-uniform grid; nothing from
:mod:`steplab.diffusion.samplers` or :mod:`~steplab.diffusion.methods` is used, so the comparison is independent.
The hand trace also computes the two wrong variants the samplers must *not* match: HB averaging the raw
evaluations before AB3 (i.e. GHVB without the division by β), and GHVB multiplied by β instead of divided.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from steplab.device import resolve_device
from steplab.diffusion.samplers import integrate

GRID = (0.0, 0.3, 0.5, 0.9)
X_START = 0.5


def _f(x: float, t: float) -> float:
    return -x * x + math.cos(t)  # f(x, t) = −x² + cos t


def hand_hb(beta: float, grid=GRID) -> float:
    """HB on AB3 (Eq. 14): Euler with v_1 = e_0, then v_{n+1} = (1−β) v_n + β·AB_j(e), x_{n+1} = x_n + δ v_{n+1}."""
    d0, d1, d2 = (grid[i + 1] - grid[i] for i in range(3))
    x0 = X_START
    e0 = _f(x0, grid[0])
    v1 = e0  # v_1 = e_0 (no average on the first step)
    x1 = x0 + d0 * v1
    e1 = _f(x1, grid[1])
    v2 = (1 - beta) * v1 + beta * (3 * e1 - e0) / 2  # average AFTER the AB2 combination
    x2 = x1 + d1 * v2
    e2 = _f(x2, grid[2])
    v3 = (1 - beta) * v2 + beta * (23 * e2 - 16 * e1 + 5 * e0) / 12  # average AFTER the AB3 combination
    return x2 + d2 * v3


def hand_ghvb(beta: float, grid=GRID, divide: bool = True) -> float:
    """GHVB-3 (Eqs. 15–19): v_{n+1} = (1−β) v_n + β e_n (v_1 = e_0), x_{n+1} = x_n + (δ/β) M_j(β; v).

    ``divide=False`` is the wrong variant x_{n+1} = x_n + δ·β·M_j (for the claim's sanity check)."""
    d0, d1, d2 = (grid[i + 1] - grid[i] for i in range(3))
    scale = (lambda d: d / beta) if divide else (lambda d: d * beta)
    x0 = X_START
    v1 = _f(x0, grid[0])  # v_1 = e_0
    x1 = x0 + scale(d0) * beta * v1  # M_1 = β v_1
    v2 = (1 - beta) * v1 + beta * _f(x1, grid[1])  # average BEFORE the combination
    x2 = x1 + scale(d1) * ((2 + beta) * v2 - (2 - beta) * v1) / 2  # M_2
    v3 = (1 - beta) * v2 + beta * _f(x2, grid[2])
    return x2 + scale(d2) * ((18 + 5 * beta) * v3 - (24 - 8 * beta) * v2 + (6 - beta) * v1) / 12  # M_3


def hand_hb_averaging_first(beta: float, grid=GRID) -> float:
    """The wrong HB variant: average the raw evaluations first, then AB on the averages, no division by β."""
    d = [grid[i + 1] - grid[i] for i in range(3)]
    x = X_START
    v = [_f(x, grid[0])]
    x = x + d[0] * v[0]
    v.append((1 - beta) * v[0] + beta * _f(x, grid[1]))
    x = x + d[1] * (3 * v[1] - v[0]) / 2
    v.append((1 - beta) * v[1] + beta * _f(x, grid[2]))
    return x + d[2] * (23 * v[2] - 16 * v[1] + 5 * v[0]) / 12


def sampler_value(method: str, grid=GRID, device=None) -> float:
    """x_3 of our sampler ``method`` on the same ODE and grid (one number: the CPU fast path of
    :func:`steplab.device.resolve_device` when ``device`` is None)."""
    f64 = dict(dtype=torch.float64, device=resolve_device(device, work_items=1))
    x = integrate(lambda x, t: -x * x + torch.cos(t), torch.tensor([X_START], **f64), torch.tensor(grid, **f64),
                  method)
    return float(x[0])


@dataclass(frozen=True)
class TraceCheck:
    """Relative differences sampler vs hand trace (``hb``, ``ghvb``: round-off) and sampler vs the wrong
    variants (``hb_vs_wrong``, ``ghvb_vs_wrong``: must be large)."""

    hb: float
    ghvb: float
    hb_vs_wrong: float
    ghvb_vs_wrong: float


def trace_check(beta: float = 0.7, device=None) -> TraceCheck:
    """Compare hb{2+β} and ghvb{2+β} (order 3) with their hand traces and with the wrong variants."""
    hb, ghvb = sampler_value(f"hb{2 + beta:g}", device=device), sampler_value(f"ghvb{2 + beta:g}", device=device)

    def rel(a: float, b: float) -> float:
        return abs(a - b) / abs(b)

    return TraceCheck(rel(hb, hand_hb(beta)), rel(ghvb, hand_ghvb(beta)),
                      rel(hb, hand_hb_averaging_first(beta)), rel(ghvb, hand_ghvb(beta, divide=False)))
