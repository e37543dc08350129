"""Closed forms for the one-unit RNN x -> w sigma(x) + b (Pascanu, Mikolov & Bengio 2013, Sec. 2.2-2.3, Fig. 3).

Fixed points solve x* = w sigma(x*) + b, i.e. b = x* - w sigma(x*): the bifurcation diagram of Fig. 3 (Doya
1993, with w = 5) is this curve read as x* against b. A fixed point is stable when |w sigma'(x*)| < 1. Where
w sigma'(x*) = 1 two fixed points merge (a saddle-node bifurcation); since sigma' <= 1/4 this needs w > 4, and
sigma(1 - sigma) = 1/w gives sigma(x*) = (1 -+ sqrt(1 - 4/w)) / 2: between the two bifurcation values of b the
map has two attractors and, between them, an unstable fixed point (the basin boundary).

The wall of Fig. 6 is where that boundary passes through x_0 = 0.5: 0.5 must be a fixed point
(b = 0.5 - w sigma(0.5)) *and* unstable, w sigma'(0.5) > 1, i.e. w > 1/sigma'(0.5) = 4.2553 (our derivation,
not in the paper). For 4 < w < 4.2553, x_0 = 0.5 on that line is a stable fixed point and there is no wall.
"""

from __future__ import annotations

import math

import torch

from steplab.validation import check_positive

Tensor = torch.Tensor

X0 = 0.5
SIGMOID_SLOPE_AT_X0 = math.exp(-X0) / (1 + math.exp(-X0)) ** 2  # sigma'(0.5) = 0.23500
WALL_W = 1 / SIGMOID_SLOPE_AT_X0  # x_0 = 0.5 is an unstable fixed point only for w > 4.2553
TWO_ATTRACTOR_W = 4.0  # w sigma'(x*) = 1 has solutions only for w > 1 / max sigma' = 4


def fixed_point_bias(w: float, x: Tensor) -> Tensor:
    """The b for which ``x`` is a fixed point of x -> w sigma(x) + b: b = x - w sigma(x) (the curve of Fig. 3)."""
    x = torch.as_tensor(x)
    return x - w * torch.sigmoid(x)  # x* = w sigma(x*) + b


def fixed_point_stable(w: float, x: Tensor) -> Tensor:
    """Whether the fixed point ``x`` is stable: |w sigma'(x)| < 1."""
    s = torch.sigmoid(torch.as_tensor(x))
    return (w * s * (1 - s)).abs() < 1  # |f'(x*)| = w sigma(x*)(1 - sigma(x*)) < 1


def bifurcation_points(w: float) -> tuple[tuple[float, float], tuple[float, float]]:
    """The two saddle-node points ((b_low, x_low), (b_high, x_high)) where w sigma'(x*) = 1 (w > 4 only)."""
    check_positive("w", w)
    if w <= TWO_ATTRACTOR_W:
        raise ValueError(f"w must be > 4 for two attractors (w sigma'(x) = 1 needs w > 1/max sigma' = 4), got {w}")
    root = math.sqrt(1 - 4 / w)
    points = []
    for s in ((1 + root) / 2, (1 - root) / 2):  # sigma(1 - sigma) = 1/w
        x = math.log(s / (1 - s))
        points.append((x - w * s, x))  # b = x* - w sigma(x*)
    return tuple(sorted(points))


def limit_states(w: float, b: Tensor, x_start: float, steps: int = 2000) -> Tensor:
    """x_steps of x_t = w sigma(x_{t-1}) + b from ``x_start`` for every b (float64): the attractor it reaches."""
    b = torch.as_tensor(b, dtype=torch.float64)
    x = torch.full_like(b, x_start)
    for _ in range(steps):
        x = w * torch.sigmoid(x) + b  # x_t = w sigma(x_{t-1}) + b
    return x
