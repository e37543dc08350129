"""The one-unit "cliff" RNN of Pascanu, Mikolov & Bengio (2013, Sec. 2.3, eq. 8, Fig. 6).

    x_t = w sigma(x_{t-1}) + b,   x_0 = 0.5,   t = 1..50,      E_50(w, b) = (sigma(x_50) - 0.7)^2

with the logistic sigma. The loss surface over (w, b) has a *wall*: where x_0 = 0.5 is exactly the unstable
fixed point, the run tips into one basin of attraction or the other. That basin boundary is the line

    b_wall(w) = 0.5 - w sigma(0.5)                  (w > 1/sigma'(0.5) = 4.2553; our derivation, not in the paper)

since x_0 = 0.5 is a fixed point of x -> w sigma(x) + b exactly when 0.5 = w sigma(0.5) + b, and unstable
only when w sigma'(0.5) > 1 (for 4 < w < 4.2553 it is a stable fixed point there: no wall; see
:mod:`steplab.rnn.theory`). A run that starts eps off an unstable fixed point moves away like
(w sigma'(0.5))^t, so the gradient on the wall
grows like (w sigma'(0.5))^50 = (0.235 w)^50. Zero loss needs a fixed point
with sigma(x*) = 0.7, i.e. the valley line b_valley(w) = ln(7/3) - 0.7 w.

Gradients are computed by forward-mode recursion (exact, batched over any shape of (w, b)):

    dx_t/dw = sigma(x_{t-1}) + w sigma'(x_{t-1}) dx_{t-1}/dw,   dx_t/db = 1 + w sigma'(x_{t-1}) dx_{t-1}/db.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from steplab.device import resolve_device
from steplab.rnn import theory
from steplab.trajectory import Trajectory, run
from steplab.transforms import optimizer
from steplab.validation import check_int, check_positive, check_threshold

Tensor = torch.Tensor

X0 = 0.5
STEPS = 50
TARGET = 0.7
WALL_W = theory.WALL_W  # the wall b_wall(w) exists only for w > 1/sigma'(0.5) = 4.2553
EXPLODING_GRAD_NORM = 2.0
"""||grad E_50|| above which a gradient counts as exploded (the cliff). Our regression value, no paper's: on
w in [1, 8], b in [-6, 1], every point at least 0.5 in b from the line 0.5 - w sigma(0.5) has ||grad E|| <= 0.40
(5 times less), while the wall at w = 5 reaches more than 1e3 (GD from (5, -2.3) at lr 1 meets ||grad E|| = 4.2)."""


def cliff_loss_and_grad(w: Tensor, b: Tensor, steps: int = STEPS, x0: float = X0,
                        target: float = TARGET) -> tuple[Tensor, Tensor, Tensor]:
    """E_50 and its gradient (dE/dw, dE/db) at every entry of the broadcast (w, b) (Pascanu 2013, eq. 8).

    Returns ``(loss, grad_w, grad_b)``, each with the broadcast shape of ``w`` and ``b``.
    """
    check_int("steps", steps, 1)
    w, b = torch.broadcast_tensors(torch.as_tensor(w), torch.as_tensor(b))
    x = torch.full_like(w, x0)
    dx_dw = torch.zeros_like(w)
    dx_db = torch.zeros_like(w)
    for _ in range(steps):
        s = torch.sigmoid(x)
        slope = w * s * (1 - s)  # dx_t/dx_{t-1} = w sigma'(x_{t-1})
        dx_dw = s + slope * dx_dw  # dx_t/dw = sigma(x_{t-1}) + w sigma'(x_{t-1}) dx_{t-1}/dw
        dx_db = 1 + slope * dx_db  # dx_t/db = 1 + w sigma'(x_{t-1}) dx_{t-1}/db
        x = w * s + b  # x_t = w sigma(x_{t-1}) + b
    s = torch.sigmoid(x)
    residual = s - target
    dloss_dx = 2 * residual * s * (1 - s)  # dE/dx_50 = 2 (sigma(x_50) - 0.7) sigma'(x_50)
    return residual**2, dloss_dx * dx_dw, dloss_dx * dx_db  # E_50 = (sigma(x_50) - 0.7)^2 and the chain rule


def cliff_loss(w: Tensor, b: Tensor, steps: int = STEPS) -> Tensor:
    """E_50(w, b) only (same recursion without derivatives)."""
    w, b = torch.broadcast_tensors(torch.as_tensor(w), torch.as_tensor(b))
    x = torch.full_like(w, X0)
    for _ in range(steps):
        x = w * torch.sigmoid(x) + b  # x_t = w sigma(x_{t-1}) + b
    return (torch.sigmoid(x) - TARGET) ** 2  # E_50 = (sigma(x_50) - 0.7)^2


def cliff_surface(w_grid: Tensor, b_grid: Tensor, steps: int = STEPS) -> tuple[Tensor, Tensor]:
    """Loss and gradient norm on the grid ``w_grid x b_grid``.

    Returns ``(loss, grad_norm)`` of shape ``[len(b_grid), len(w_grid)]`` (rows are b, columns are w,
    the layout ``imshow``/``contourf`` expect with w on the horizontal axis).
    """
    w_grid, b_grid = torch.as_tensor(w_grid), torch.as_tensor(b_grid)
    if w_grid.ndim != 1 or b_grid.ndim != 1:
        raise ValueError("w_grid and b_grid must be 1-D tensors")
    loss, gw, gb = cliff_loss_and_grad(w_grid[None, :], b_grid[:, None], steps)
    return loss, torch.sqrt(gw**2 + gb**2)


def _fixed_point_at_x0(w: Tensor) -> Tensor:
    """The b for which x_0 = 0.5 is a fixed point of x -> w sigma(x) + b (for any w)."""
    w = torch.as_tensor(w)
    x0 = torch.tensor(X0, dtype=w.dtype if w.is_floating_point() else torch.float64, device=w.device)
    return X0 - w * torch.sigmoid(x0)


def wall_line(w: Tensor) -> Tensor:
    """b_wall(w) = 0.5 - w sigma(0.5): the basin boundary through x_0; NaN where w <= 4.2553 (no wall there)."""
    w = torch.as_tensor(w)
    b = _fixed_point_at_x0(w)  # b_wall = 0.5 - w sigma(0.5)
    return torch.where(w > WALL_W, b, torch.full_like(b, math.nan))


def valley_line(w: Tensor) -> Tensor:
    """b_valley(w) = ln(7/3) - 0.7 w: a fixed point with sigma(x*) = 0.7, i.e. zero loss."""
    w = torch.as_tensor(w)
    return math.log(TARGET / (1 - TARGET)) - TARGET * w  # sigma(x*) = 0.7: x* = ln(7/3) = 0.7 w + b


@dataclass
class CliffProblem:
    """The cliff model as a steplab *problem*: each run is one (w, b) start, params shape [runs, 2].

    ``oracle`` returns each run's own loss and gradient (the per-start losses are independent, so this
    equals the gradient of their *sum*; a mean would divide the step size by the number of starts).
    """

    steps: int = STEPS
    dim: int = 2

    def loss(self, params: Tensor) -> Tensor:
        return cliff_loss(params[:, 0], params[:, 1], self.steps)

    def oracle(self, params: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        loss, gw, gb = cliff_loss_and_grad(params[:, 0], params[:, 1], self.steps)
        return loss, torch.stack([gw, gb], dim=-1)


def descend(starts: Tensor, lr: float | Tensor, clip_threshold: float | Tensor | None = None, steps: int = 300,
            record_every: int | None = 1) -> Trajectory:
    """Gradient descent on (w, b) from each start, optionally with norm clipping of each start's gradient.

        g <- grad E_50(theta);  if ||g|| > c: g <- c g / ||g||;  theta <- theta - lr g     (Pascanu 2013, Alg. 1)

    Args:
        starts: ``[runs, 2]`` initial (w, b); float64 recommended. The descent runs on their device.
        lr: step size, a number or a ``[runs]`` tensor.
        clip_threshold: ``None`` (or ``inf``) for plain GD, else a positive number or ``[runs]`` tensor (per-run
            ``inf`` entries leave those runs unclipped).
    """
    starts = torch.as_tensor(starts)
    if starts.ndim != 2 or starts.shape[1] != 2:
        raise ValueError(f"starts must have shape [runs, 2], got {tuple(starts.shape)}")
    check_positive("lr", lr)
    if clip_threshold is not None:
        check_threshold("clip_threshold", clip_threshold)
    check_int("steps", steps, 1)
    transform = optimizer(lr, clip_threshold=clip_threshold)
    return run(CliffProblem(), transform, starts, steps, seed=None, record_every=record_every)


def exploded(grad_norm: Tensor) -> Tensor:
    """Boolean, elementwise: ||grad E_50|| > :data:`EXPLODING_GRAD_NORM` (the gradient met the cliff)."""
    return torch.as_tensor(grad_norm) > EXPLODING_GRAD_NORM


def step_lengths(trajectory: Trajectory) -> Tensor:
    """||theta_{t+1} - theta_t|| for every recorded step: ``[K - 1, runs]``."""
    return torch.linalg.vector_norm(trajectory.iterates.diff(dim=0), dim=-1)


def wall_centred_b(w: float, half_width: float = 0.01, points: int = 2001,
                   dtype: torch.dtype = torch.float64) -> Tensor:
    """``points`` values of b spread evenly over 0.5 - w sigma(0.5) +- half_width (b_wall(w) where w > 4.2553)."""
    check_positive("half_width", half_width)
    check_int("points", points, 2)
    centre = float(_fixed_point_at_x0(torch.tensor(w, dtype=torch.float64)))
    return torch.linspace(centre - half_width, centre + half_width, points, dtype=dtype)


def random_wall_starts(runs: int = 400, seed: int = 0, dtype: torch.dtype = torch.float64, device=None) -> Tensor:
    """Random starts just on the low-loss side of the wall: w0 ~ U(4.5, 6), b0 = b_wall(w0) + U(0.05, 0.5); drawn on
    the CPU (the same starts on every machine), returned on ``device`` (None: :func:`steplab.device.resolve_device`
    for 2 x runs numbers)."""
    check_int("runs", runs, 1)
    generator = torch.Generator().manual_seed(seed)
    w0 = 4.5 + 1.5 * torch.rand(runs, generator=generator, dtype=torch.float64)
    b0 = wall_line(w0) + 0.05 + 0.45 * torch.rand(runs, generator=generator, dtype=torch.float64)
    return torch.stack([w0, b0], dim=-1).to(dtype=dtype, device=resolve_device(device, work_items=2 * runs))

