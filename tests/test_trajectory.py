"""The driver: divergence detection, freezing, records, resuming, progress."""

import math

import pytest
import torch

from steplab.problems import Cosh, GaussianNoise, Noisy, Quadratic, Rosenbrock, TwoPointNoise
from steplab.trajectory import resume, run
from steplab.transforms import chain, clip_by_norm, heavy_ball, identity, optimizer, scale


def _gd(eta):
    return chain(identity(), scale(eta))


def test_divergence_detected_at_the_right_step():
    """GD on f = 2 x^2 (lambda = 4): x_t = (1 - 4 eta)^t x_0, so f(x_t) = 2 x0^2 q^(2t)."""
    problem = Quadratic([4.0])
    eta, x0, bound = 0.6, 1.0, 1e6
    q = abs(1 - 4 * eta)  # 1.4 > 1
    expected = next(t for t in range(1000) if 2 * x0**2 * q ** (2 * t) > bound)
    traj = run(problem, _gd(eta), torch.tensor([[x0]], dtype=torch.float64), 100, max_loss=bound)
    assert int(traj.diverged_at[0]) == expected
    loss = float(traj.loss[expected, 0])
    assert traj.divergence_message(0) == f"diverged at step {expected} (loss {loss:.3g} > 1e+06)"
    # frozen: the iterate stays where it was when divergence was detected
    assert torch.all(traj.loss[expected:, 0] == traj.loss[expected, 0])


def test_non_finite_loss_is_divergence():
    traj = run(Cosh(1), _gd(1.0), torch.tensor([[5.0]], dtype=torch.float64), 20, max_loss=math.inf)
    step = int(traj.diverged_at[0])
    assert step > 0 and not math.isfinite(float(traj.loss[step, 0]))
    assert "loss is not finite" in traj.divergence_message(0)


def test_diverging_neighbour_does_not_affect_other_runs():
    problem = Quadratic([0.2, 4.0])
    x0 = torch.tensor([[-5.0, -2.0]], dtype=torch.float64)
    both = run(problem, _gd(torch.tensor([0.4, 0.6], dtype=torch.float64)), x0.repeat(2, 1), 80)
    # the same shapes without a diverging run
    calm = run(problem, _gd(torch.tensor([0.4, 0.45], dtype=torch.float64)), x0.repeat(2, 1), 80)
    alone = run(problem, _gd(0.4), x0, 80)
    assert both.diverged.tolist() == [False, True] and not calm.diverged.any()
    # bit for bit equal to the same batch without a diverging neighbour ...
    assert torch.equal(both.iterates[:, 0], calm.iterates[:, 0])
    assert torch.equal(both.loss[:, 0], calm.loss[:, 0])
    # ... and equal to the run alone up to rounding (a [1, 2] matmul may round differently from [2, 2])
    torch.testing.assert_close(both.iterates[:, 0], alone.iterates[:, 0], rtol=1e-13, atol=1e-300)
    assert torch.isfinite(both.final).all()


def test_records_and_shapes():
    problem = Quadratic([1.0, 10.0], rotation=0.3)
    traj = run(problem, optimizer(0.05, clip_threshold=1.0), torch.full((3, 2), 4.0, dtype=torch.float64), 40,
               record_every=10)
    assert traj.iterates.shape == (5, 3, 2) and traj.recorded_steps.tolist() == [0, 10, 20, 30, 40]
    assert traj.loss.shape == (41, 3) and traj.grad_norm.shape == (40, 3)
    assert torch.all(traj.clipped_grad_norm <= 1.0 + 1e-12)
    assert torch.all(traj.clipped_grad_norm <= traj.grad_norm + 1e-12)
    assert traj.grad_norm[0, 0] > 1.0  # clipping was active at the start
    torch.testing.assert_close(traj.loss[-1], problem.loss(traj.final))


def test_resume_equals_one_long_run():
    problem = Rosenbrock()
    transform = chain(heavy_ball(0.9), scale(1e-4))
    x0 = torch.tensor([[-1.5, 2.0], [0.0, 0.0]], dtype=torch.float64)
    full = run(problem, transform, x0, 60)
    first = run(problem, transform, x0, 25)
    second = run(problem, transform, first.final, 35, state=first.state)
    torch.testing.assert_close(second.final, full.final, rtol=0, atol=0)


@pytest.mark.parametrize("record_every", [1, 5])
def test_resumed_noisy_momentum_run_equals_one_long_run_bit_for_bit(record_every):
    """2N steps in one call = N steps + resume(N): every record, the noise stream, a divergence in the first half."""
    problem = Noisy(Quadratic([0.2, 4.0]), GaussianNoise(0.5))
    transform = chain(clip_by_norm(torch.tensor([float("inf"), 3.0, float("inf")], dtype=torch.float64)),
                      heavy_ball(0.5), scale(torch.tensor([0.4, 0.5, 1.5], dtype=torch.float64)))
    x0 = torch.tensor([[-5.0, -2.0]], dtype=torch.float64).repeat(3, 1)
    full = run(problem, transform, x0, 60, seed=7, record_every=record_every, max_loss=1e6)
    half = run(problem, transform, x0, 30, seed=7, record_every=record_every, max_loss=1e6)
    both = resume(problem, transform, half, 30, record_every=record_every)
    assert full.diverged.tolist() == [False, False, True] and 0 < int(full.diverged_at[2]) < 30
    for name in ("iterates", "recorded_steps", "loss", "grad_norm", "clipped_grad_norm", "diverged_at", "final"):
        assert torch.equal(getattr(both, name), getattr(full, name)), name
    assert torch.equal(both.state[1], full.state[1])  # the heavy-ball velocity
    assert both.divergence_message(2) == full.divergence_message(2)


def test_stochastic_runs_are_seeded_and_per_sample_works():
    problem = Noisy(Quadratic([1.0]), TwoPointNoise(sigma=1.0, p=0.1), batch_size=4, per_sample=True)
    from steplab.transforms import clip_per_sample

    transform = chain(clip_per_sample(0.5), scale(0.1))
    x0 = torch.zeros(8, 1, dtype=torch.float64)
    a = run(problem, transform, x0, 50, seed=3)
    b = run(problem, transform, x0, 50, seed=3)
    c = run(problem, transform, x0, 50, seed=4)
    assert torch.equal(a.final, b.final) and not torch.equal(a.final, c.final)
    assert torch.all(a.clipped_grad_norm <= 0.5 + 1e-12)


def test_progress_bar_and_bad_arguments(capsys):
    problem = Quadratic([1.0])
    x0 = torch.ones(1, 1, dtype=torch.float64)
    run(problem, _gd(0.1), x0, 5, progress=True)
    with pytest.raises(ValueError, match="steps"):
        run(problem, _gd(0.1), x0, 0)
    with pytest.raises(ValueError, match="x0 must have shape"):
        run(problem, _gd(0.1), torch.ones(3, dtype=torch.float64), 5)
    with pytest.raises(ValueError, match="max_loss"):
        run(problem, _gd(0.1), x0, 5, max_loss=-1.0)


def test_clip_per_run_thresholds_in_driver():
    problem = Quadratic([1.0, 1.0])
    x0 = torch.full((2, 2), 10.0, dtype=torch.float64)
    traj = run(problem, chain(clip_by_norm(torch.tensor([0.5, 2.0], dtype=torch.float64)), scale(1.0)), x0, 3)
    torch.testing.assert_close(traj.clipped_grad_norm[0], torch.tensor([0.5, 2.0], dtype=torch.float64))
