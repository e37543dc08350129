"""The tour's experiments: batched GD, heavy ball and clipped GD runs on f(x) = 0.1 x_1^2 + 2 x_2^2.

Every function runs ``steplab.trajectory.run`` and returns a Trajectory or a dataclass of tensors;
nothing here prints or plots.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from steplab import rates
from steplab.problems import Quadratic, loss_grid
from steplab.trajectory import Trajectory, run
from steplab.transforms import chain, heavy_ball, identity, optimizer, scale

Tensor = torch.Tensor
EIGENVALUES = (0.2, 4.0)
START = (-5.0, -2.0)


def tour_problem() -> Quadratic:
    """The quadratic 0.1 x_1^2 + 2 x_2^2 (float64, CPU)."""
    return Quadratic(list(EIGENVALUES))


def starts(runs: int, start=START) -> Tensor:
    """``runs`` copies of the start point, shape [runs, 2]."""
    return torch.tensor(start, dtype=torch.float64).repeat(runs, 1)


def gd(eta, steps: int = 50, start=START) -> Trajectory:
    """Plain GD x <- x - eta grad f(x); ``eta`` a float or a [runs] tensor of step sizes."""
    runs = eta.numel() if isinstance(eta, Tensor) else 1
    return run(tour_problem(), chain(identity(), scale(eta)), starts(runs, start), steps)


def momentum(eta, beta, steps: int = 50, start=START) -> Trajectory:
    """Heavy ball v <- beta v + g, x <- x - eta v; ``eta``/``beta`` floats or [runs] tensors."""
    runs = max(t.numel() if isinstance(t, Tensor) else 1 for t in (eta, beta))
    return run(tour_problem(), chain(heavy_ball(beta), scale(eta)), starts(runs, start), steps)


def clipped_gd(eta, clip_threshold, steps: int = 50, start=START) -> Trajectory:
    """GD on the norm-clipped gradient, x <- x - eta min(1, c/||g||) g."""
    return run(tour_problem(), optimizer(eta, clip_threshold=clip_threshold), starts(1, start), steps)


@dataclass
class RateTable:
    """Measured GD contraction per step vs the closed form, one entry per step size."""

    eta: Tensor  # [K] step sizes
    measured: Tensor  # [K] (||x_T|| / ||x_{T/2}||)^(2/T)
    theory: Tensor  # [K] max_i |1 - eta lambda_i|


def gd_rate_table(etas=(0.1, 0.2, 0.3, 0.4, 0.45), steps: int = 200) -> RateTable:
    """GD at every step size in one batched run; the rate measured over steps [T/2, T] (x* = 0)."""
    eta = torch.tensor(etas, dtype=torch.float64)
    distance = torch.linalg.vector_norm(gd(eta, steps=steps).iterates, dim=-1)  # ||x_t - x*||, x* = 0
    return RateTable(eta, rates.second_half_rate(distance), rates.gd_rate(eta, EIGENVALUES))


@dataclass
class Landscape:
    """f on a grid for a contour plot: ``values[i, j] = f(xs[j], ys[i])``."""

    xs: Tensor
    ys: Tensor
    values: Tensor


def landscape(xlim=(-5.5, 1.5), ylim=(-3.0, 3.0), resolution: int = 200) -> Landscape:
    """The tour objective on a ``resolution`` x ``resolution`` grid over ``xlim`` x ``ylim``."""
    xs = torch.linspace(*xlim, resolution, dtype=torch.float64)
    ys = torch.linspace(*ylim, resolution, dtype=torch.float64)
    return Landscape(xs, ys, loss_grid(tour_problem(), xs, ys))
