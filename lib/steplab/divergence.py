"""Is a run diverging before its loss reaches the driver's cut-off? Geometric growth of the loss.

:func:`steplab.trajectory.run` marks a run *diverged* only once its loss is non-finite or passes ``max_loss``
(1e12 by default). A run can be unstable long before that: gradient descent on the tour's quadratic at
η = 0.55 > 2/L ends 50 steps at f ≈ 7e8, below the cut-off, yet it is plainly blowing up. This module says
so from the loss curve itself, so that the notebooks (through :meth:`Trajectory.divergence_message`), the tour
and the dashboard's Playground all use one criterion.

**The criterion** (:func:`loss_growth`): over the second half of the run, steps [T // 2, T],

1. the loss grows by a geometric-mean factor q = (f_T / f_{T//2})^(1/(T - T//2)) ≥ ``min_factor`` per step,
2. it rose in at least ``min_rising`` of those steps (a steady climb, not one noisy excursion), and
3. it ends above its starting value, f_T > f_0 (not a transient bump on the way down).

**Why.** On a quadratic f(x) = ½ Σ_i λ_i z_i² (z in the eigenbasis, minimum 0) one GD step multiplies z_i by
(1 − ηλ_i) (see :mod:`steplab.rates`), so f is a sum of terms ½ λ_i z_i(0)² (1 − ηλ_i)^(2t). When η > 2/L the
term of λ_max = L has |1 − ηL| > 1 and, once it dominates, f grows by exactly (1 − ηL)² every step: q measures
that factor, the loss rises at every step, and f_T exceeds f_0. The same holds for heavy ball with a real
root of modulus > 1 (its loss grows by root² per step). A converging run has q < 1; a run at the stability edge
(η = 2/L: an undamped oscillation) has q = 1; a stationary noisy run has q ≈ 1 and rises in about half its steps.
Skipping the first half, as :func:`steplab.rates.second_half_rate` does, drops the transient of the other
directions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from steplab import rates
from steplab.validation import check_int, check_range

Tensor = torch.Tensor

MIN_FACTOR = 1.01  # at least 1% growth per step; GD at eta = 0.505 on the tour (|1 - eta L| = 1.02) grows 4% per step
MIN_RISING = 0.8  # fraction of the window's steps with f_{t+1} > f_t
MIN_WINDOW = 8  # fewer steps in the second half than this: too short to judge


@dataclass
class Growth:
    """The loss growth of every run over the window [start, end] (R runs).

    factor:    [R] geometric-mean growth of the loss per step over the window (NaN when not measurable)
    rising:    [R] fraction of the window's steps in which the loss rose
    diverging: [R] the three conditions of :func:`loss_growth` hold
    """

    factor: Tensor
    rising: Tensor
    diverging: Tensor
    start: int
    end: int

    def message(self, run: int) -> str:
        """``'diverging: the loss grows ×1.44 per step (steps 25–50)'``, or ``''`` for a run that is not."""
        if not bool(self.diverging[run]):
            return ""
        return f"diverging: the loss grows ×{float(self.factor[run]):.3g} per step (steps {self.start}–{self.end})"


def loss_growth(loss: Tensor, min_factor: float = MIN_FACTOR, min_rising: float = MIN_RISING,
                min_window: int = MIN_WINDOW) -> Growth:
    """Which runs of ``loss`` ([T + 1, R], f(x_t) for t = 0..T, or [T + 1] for one run) grow geometrically.

    A run is *diverging* when, over steps [T // 2, T], its loss grows by a factor ≥ ``min_factor`` per step
    (geometric mean), rises in ≥ ``min_rising`` of those steps, and ends above f_0 (see the module docstring
    for why). Runs whose window holds a non-finite or non-positive loss are not measured (factor NaN,
    not diverging): the driver's cut-off already handles non-finite losses.
    """
    check_range("min_factor", min_factor, 1.0)
    check_range("min_rising", min_rising, 0.0, 1.0)
    check_int("min_window", min_window, 1)
    loss = torch.as_tensor(loss, dtype=torch.float64)
    loss = loss.unsqueeze(-1) if loss.dim() == 1 else loss
    end = loss.shape[0] - 1
    start = end // 2
    runs = loss.shape[1]
    if end - start < min_window:
        nan = torch.full((runs,), math.nan, dtype=torch.float64, device=loss.device)
        return Growth(nan, nan.clone(), torch.zeros(runs, dtype=torch.bool, device=loss.device), start, end)
    window = loss[start:]
    measurable = torch.isfinite(window).all(0) & (window > 0).all(0)
    factor = torch.where(measurable, rates.second_half_rate(loss), math.nan)  # (f_T / f_{T//2})^(1/(T - T//2))
    rising = (window[1:] > window[:-1]).double().mean(0)  # share of steps with f_{t+1} > f_t
    diverging = measurable & (factor >= min_factor) & (rising >= min_rising) & (loss[-1] > loss[0])
    return Growth(factor, rising, diverging, start, end)
