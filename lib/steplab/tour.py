"""The library tour (notebook 00): GD vs heavy ball on an ill-conditioned 2-D quadratic.

f(x) = 0.1 x_1^2 + 2 x_2^2, eigenvalues 0.2 and 4 (d2l, Sec. 12.6 "Momentum"; Goh 2017).
GD converges iff eta < 2/L = 0.5; heavy ball at (eta, beta) = (0.6, 0.5) converges at rate sqrt(beta).
"""

from __future__ import annotations

import torch

from steplab import rates
from steplab.claims import Result, register
from steplab.problems import Quadratic
from steplab.trajectory import Trajectory, run
from steplab.transforms import chain, heavy_ball, identity, optimizer, scale

EIGENVALUES = (0.2, 4.0)
START = (-5.0, -2.0)


def tour_problem() -> Quadratic:
    """The quadratic 0.1 x_1^2 + 2 x_2^2 (float64, CPU)."""
    return Quadratic(list(EIGENVALUES))


def starts(runs: int, start=START) -> torch.Tensor:
    """``runs`` copies of the start point, shape [runs, 2]."""
    return torch.tensor(start, dtype=torch.float64).repeat(runs, 1)


def gd(eta, steps: int = 50, start=START) -> Trajectory:
    """Plain GD x <- x - eta grad f(x); ``eta`` a float or a [runs] tensor of step sizes."""
    runs = eta.numel() if isinstance(eta, torch.Tensor) else 1
    return run(tour_problem(), chain(identity(), scale(eta)), starts(runs, start), steps)


def momentum(eta, beta, steps: int = 50, start=START) -> Trajectory:
    """Heavy ball v <- beta v + g, x <- x - eta v; ``eta``/``beta`` floats or [runs] tensors."""
    runs = max(t.numel() if isinstance(t, torch.Tensor) else 1 for t in (eta, beta))
    return run(tour_problem(), chain(heavy_ball(beta), scale(eta)), starts(runs, start), steps)


def clipped_gd(eta, clip_threshold, steps: int = 50, start=START) -> Trajectory:
    """GD on the norm-clipped gradient."""
    return run(tour_problem(), optimizer(eta, clip_threshold=clip_threshold), starts(1, start), steps)


def gd_rate_table(etas=(0.1, 0.2, 0.3, 0.4, 0.45), steps: int = 200):
    """Measured GD contraction (steps 100..200) vs max|1 - eta lambda|, all step sizes in one run."""
    eta = torch.tensor(etas, dtype=torch.float64)
    traj = gd(eta, steps=steps)
    distance = torch.linalg.vector_norm(traj.iterates, dim=-1)  # x* = 0
    measured = rates.measured_rate(distance, steps // 2, steps)
    return eta, measured, rates.gd_rate(eta, EIGENVALUES)


@register(
    "tour.gd_diverges",
    paper="d2l Sec. 12.6 (Zhang et al. 2023); Polyak 1964",
    source="momentum.md: 0.1x1^2 + 2x2^2",
    statement="On 0.1x1^2+2x2^2, GD converges at eta=0.4, diverges at eta=0.6 > 2/L; heavy ball (0.6, 0.5) converges",
)
def _claim_gd_diverges() -> Result:
    gd_runs = gd(torch.tensor([0.4, 0.6], dtype=torch.float64), steps=100)
    hb = momentum(0.6, 0.5, steps=100)
    ok = (not bool(gd_runs.diverged[0])) and bool(gd_runs.diverged[1]) and not bool(hb.diverged[0])
    ok = ok and float(gd_runs.loss[-1, 0]) < 1e-6 and float(hb.loss[-1, 0]) < 1e-12
    measured = (f"GD 0.4: f={float(gd_runs.loss[-1, 0]):.1e}; GD 0.6: {gd_runs.divergence_message(1)}; "
                f"HB: f={float(hb.loss[-1, 0]):.1e}")
    return Result("GD 0.4 converges, GD 0.6 diverges, HB converges", measured, ok)


@register(
    "tour.gd_rate",
    paper="Polyak 1964; Goh 2017",
    source="linear rate of GD on a quadratic",
    statement="GD's measured contraction per step equals max_i |1 - eta lambda_i| for every eta < 2/L",
)
def _claim_gd_rate() -> Result:
    eta, measured, theory = gd_rate_table()
    error = float((measured - theory).abs().max())
    return Result("max|1-eta*lambda| (err < 1e-6)", f"max error {error:.1e}", error < 1e-6)
