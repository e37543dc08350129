"""steplab.divergence: a run whose loss grows geometrically is reported diverging before the driver's cut-off."""

import math

import pytest
import torch

from steplab import divergence, rates
from steplab.tour import EIGENVALUES, gd, momentum

L = max(EIGENVALUES)


def test_gd_above_two_over_l_is_diverging_with_its_growth_factor():
    """Notebook 00's widget at eta = 0.55 > 2/L: below the 1e12 cut-off after 50 steps, yet diverging; the loss grows
    by (1 - eta L)^2 = 1.44 per step (the error by |1 - eta L| = 1.2)."""
    traj = gd(0.55, steps=50)
    assert int(traj.diverged_at[0]) == -1  # the cut-off alone would say "did not diverge"
    growth = divergence.loss_growth(traj.loss)
    assert bool(growth.diverging[0])
    assert float(growth.factor[0]) == pytest.approx((1 - 0.55 * L) ** 2, abs=1e-3)
    assert growth.message(0) == "diverging: the loss grows ×1.44 per step (steps 25–50)"
    assert traj.divergence_message(0) == ("diverging: the loss grows ×1.44 per step (steps 25–50); "
                                          "below 1e+12 after 50 steps")


def test_converging_and_edge_runs_are_not_diverging():
    traj = gd(torch.tensor([0.1, 0.4, 0.45, 0.5], dtype=torch.float64), steps=50)  # 0.5 = 2/L: undamped, flat
    growth = divergence.loss_growth(traj.loss)
    assert not bool(growth.diverging.any())
    assert float(growth.factor[3]) == pytest.approx(1.0, abs=1e-3)
    assert [traj.divergence_message(r) for r in range(4)] == ["did not diverge in 50 steps"] * 4
    hb = momentum(0.6, 0.5, steps=50)  # converges with an oscillating (non-monotone) loss
    assert not bool(divergence.loss_growth(hb.loss).diverging[0])


def test_heavy_ball_beyond_its_edge_is_diverging():
    """Heavy ball's edge is 2(1 + beta)/L = 0.6 at beta = 0.2; at eta = 0.62 the root -1.098 of
    r^2 - (1 + beta - eta L) r + beta makes the loss grow by its square per step."""
    hb = momentum(0.62, 0.2, steps=80)
    growth = divergence.loss_growth(hb.loss)
    assert int(hb.diverged_at[0]) == -1 and bool(growth.diverging[0])
    assert float(growth.factor[0]) == pytest.approx(float(rates.heavy_ball_rate(0.62, 0.2, EIGENVALUES)) ** 2, abs=1e-3)


def test_flat_noisy_runs_are_not_diverging():
    """Stationary noisy losses: some end higher than they start with a measured factor above 1.01 (the rising
    condition is what rules them out); a noisy geometric climb is still diverging."""
    generator = torch.Generator().manual_seed(0)
    noisy = torch.exp(0.5 * torch.randn(51, 4, generator=generator, dtype=torch.float64))
    growth = divergence.loss_growth(noisy)
    assert not bool(growth.diverging.any())
    assert bool(((growth.factor >= divergence.MIN_FACTOR) & (noisy[-1] > noisy[0])).any())  # only rising decides
    t = torch.arange(51, dtype=torch.float64).unsqueeze(1)
    climbing = 1.2**t * torch.exp(0.05 * torch.randn(51, 1, generator=generator, dtype=torch.float64))
    assert bool(divergence.loss_growth(climbing).diverging[0])


def test_transient_bump_and_short_or_non_finite_runs_are_not_diverging():
    t = torch.arange(41, dtype=torch.float64)
    bump = 100 * 0.5**t + 1e-3 * 1.1 ** t  # rises from t ~ 12 but ends far below f_0
    assert not bool(divergence.loss_growth(bump).diverging[0])
    short = 1.5 ** torch.arange(10, dtype=torch.float64)  # 4 steps in the second half: too short to judge
    growth = divergence.loss_growth(short)
    assert not bool(growth.diverging[0]) and math.isnan(float(growth.factor[0]))
    overflow = 1.5 ** torch.arange(41, dtype=torch.float64)
    overflow[-1] = math.inf
    assert not bool(divergence.loss_growth(overflow).diverging[0])


def test_bad_parameters_are_named():
    with pytest.raises(ValueError, match="min_factor"):
        divergence.loss_growth(torch.ones(20), min_factor=0.5)
    with pytest.raises(ValueError, match="min_rising"):
        divergence.loss_growth(torch.ones(20), min_rising=1.5)


def test_playground_growth_note_names_the_factor_and_the_bound():
    """GD at eta = 0.21 > 2/L = 0.2 on eigenvalues (1, 10): the loss grows by (1 - 2.1)^2 = 1.21 per step, 60 steps
    stay below the cut-off; the Playground says so with the bound. A converging run gets no note."""
    from steplab import playground
    from steplab.trajectory import run

    problem = playground.make_problem("quadratic", (1.0, 10.0), 30.0)
    configs = [playground.RunConfig("gd", 0.21), playground.RunConfig("gd", 0.15)]
    x0 = torch.tensor([[1.0, 1.0]] * 2, dtype=torch.float64, device=problem.minimizer.device)
    traj = run(problem, playground.overlay_transform(configs), x0, 60)
    assert int(traj.diverged_at[0]) == -1
    notes = [playground.growth_note(problem, c, traj.loss[:, r], traj.final[r]) for r, c in enumerate(configs)]
    assert notes[0] == "diverging: the loss grows ×1.21 per step (steps 30–60); η = 0.21 > 2/L = 0.2"
    assert notes[1] == ""
