"""The tour's experiments: batched GD, heavy ball and clipped GD runs on f(x) = 0.1 x_1^2 + 2 x_2^2.

Every function runs ``steplab.trajectory.run`` and returns a Trajectory or a dataclass of tensors;
nothing here prints or plots. Each takes ``device=None`` (:func:`steplab.device.resolve_device` for its
runs x 2 numbers per step: the CPU fast path on an auto-detected GPU) and returns its result on the CPU
(``to_host``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from steplab import rates
from steplab.device import resolve_device, to_host
from steplab.problems import Quadratic, loss_grid
from steplab.trajectory import Trajectory, run
from steplab.transforms import chain, heavy_ball, identity, optimizer, scale

Tensor = torch.Tensor
EIGENVALUES = (0.2, 4.0)
START = (-5.0, -2.0)


def tour_problem(device=None) -> Quadratic:
    """The quadratic 0.1 x_1^2 + 2 x_2^2 (float64) on ``device`` (None: :func:`steplab.device.resolve_device`)."""
    return Quadratic(list(EIGENVALUES), device=device)


def starts(runs: int, start=START, device=None) -> Tensor:
    """``runs`` copies of the start point, shape [runs, 2], on ``device`` (None: ``resolve_device``)."""
    return torch.tensor(start, dtype=torch.float64, device=resolve_device(device)).repeat(runs, 1)


def _runs(*values) -> int:
    return max(v.numel() if isinstance(v, Tensor) else 1 for v in values)


def _on(value, device):
    """A per-run hyper-parameter moved to the runs' device once (not in every step)."""
    return value.to(device) if isinstance(value, Tensor) else value


def _drive(transform, runs: int, steps: int, start, device) -> Trajectory:
    device = resolve_device(device, work_items=2 * runs)
    return to_host(run(tour_problem(device), transform(device), starts(runs, start, device), steps))


def gd(eta, steps: int = 50, start=START, device=None) -> Trajectory:
    """Plain GD x <- x - eta grad f(x); ``eta`` a float or a [runs] tensor of step sizes."""
    return _drive(lambda d: chain(identity(), scale(_on(eta, d))), _runs(eta), steps, start, device)


def momentum(eta, beta, steps: int = 50, start=START, device=None) -> Trajectory:
    """Heavy ball v <- beta v + g, x <- x - eta v; ``eta``/``beta`` floats or [runs] tensors."""
    return _drive(lambda d: chain(heavy_ball(_on(beta, d)), scale(_on(eta, d))), _runs(eta, beta), steps, start,
                  device)


def clipped_gd(eta, clip_threshold, steps: int = 50, start=START, device=None) -> Trajectory:
    """GD on the norm-clipped gradient, x <- x - eta min(1, c/||g||) g."""
    return _drive(lambda d: optimizer(_on(eta, d), clip_threshold=_on(clip_threshold, d)), 1, steps, start, device)


@dataclass
class RateTable:
    """Measured GD contraction per step vs the closed form, one entry per step size."""

    eta: Tensor  # [K] step sizes
    measured: Tensor  # [K] (||x_T|| / ||x_{T/2}||)^(2/T)
    theory: Tensor  # [K] max_i |1 - eta lambda_i|


def gd_rate_table(etas=(0.1, 0.2, 0.3, 0.4, 0.45), steps: int = 200, device=None) -> RateTable:
    """GD at every step size in one batched run; the rate measured over steps [T/2, T] (x* = 0)."""
    eta = torch.tensor(etas, dtype=torch.float64)
    distance = torch.linalg.vector_norm(gd(eta, steps=steps, device=device).iterates, dim=-1)  # ||x_t||, x* = 0
    return RateTable(eta, rates.second_half_rate(distance), rates.gd_rate(eta, EIGENVALUES))


@dataclass
class Landscape:
    """f on a grid for a contour plot: ``values[i, j] = f(xs[j], ys[i])``."""

    xs: Tensor
    ys: Tensor
    values: Tensor


def landscape(xlim=(-5.5, 1.5), ylim=(-3.0, 3.0), resolution: int = 200, device=None) -> Landscape:
    """The tour objective on a ``resolution`` x ``resolution`` grid over ``xlim`` x ``ylim``."""
    device = resolve_device(device, work_items=resolution * resolution)
    xs = torch.linspace(*xlim, resolution, dtype=torch.float64, device=device)
    ys = torch.linspace(*ylim, resolution, dtype=torch.float64, device=device)
    return to_host(Landscape(xs, ys, loss_grid(tour_problem(device), xs, ys)))
