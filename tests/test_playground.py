"""The dashboard playground's compute, without Streamlit: overlays, readouts, curvature, divergence reasons."""

import math

import pytest
import torch

from steplab import playground, rates
from steplab.problems import CommonNoise, Cosh, GaussianNoise, Noisy, Quadratic, Rosenbrock, loss_grid
from steplab.trajectory import run
from steplab.transforms import chain, heavy_ball, nesterov, scale


def test_overlay_matches_heavy_ball_and_nesterov():
    problem = Quadratic([0.5, 3.0], rotation=0.3)
    x = torch.tensor([[1.0, -2.0]] * 3, dtype=torch.float64)
    mixed = playground.overlay_transform([playground.RunConfig("gd", 0.1),
                                          playground.RunConfig("heavy_ball", 0.1, 0.7),
                                          playground.RunConfig("nesterov", 0.2, 0.5)])
    refs = [chain(scale(0.1)), chain(heavy_ball(0.7), scale(0.1)), chain(nesterov(0.5), scale(0.2))]
    state, ref_states = mixed.init(x), [t.init(x[i:i + 1]) for i, t in enumerate(refs)]
    xs, ref_xs = x.clone(), [x[i:i + 1].clone() for i in range(3)]
    for _ in range(20):
        updates, state = mixed.update(problem.oracle(xs)[1], state, xs)
        xs = xs - updates
        for i, t in enumerate(refs):
            u, ref_states[i] = t.update(problem.oracle(ref_xs[i])[1], ref_states[i], ref_xs[i])
            ref_xs[i] = ref_xs[i] - u
    torch.testing.assert_close(xs, torch.cat(ref_xs), rtol=1e-13, atol=1e-15)  # batched matmul: ulp-level


def test_divergence_reason_names_the_bound():
    problem = playground.make_problem("quadratic", (1.0, 10.0), 30.0)
    reason = playground.divergence_reason(problem, playground.RunConfig("gd", 0.3), torch.tensor([1.0, 1.0]))
    assert reason == "η = 0.3 > 2/L = 0.2"
    assert rates.stability_limit("heavy_ball", 0.5, 10.0) == pytest.approx(0.3)


def test_unclipped_overlay_run_equals_the_unclipped_optimizer():
    """clip = inf in an overlay is 'no clipping': the same numbers as a chain without a clip stage."""
    problem = Rosenbrock()
    x0 = torch.tensor([[-1.5, 2.0], [-1.5, 2.0]], dtype=torch.float64)
    overlay = playground.overlay_transform([playground.RunConfig("heavy_ball", 1e-4, 0.9),
                                            playground.RunConfig("heavy_ball", 1e-4, 0.9, clip_threshold=1.0)])
    both = run(problem, overlay, x0, 50)
    alone = run(problem, chain(heavy_ball(0.9), scale(1e-4)), x0[:1], 50)
    torch.testing.assert_close(both.iterates[:, 0], alone.iterates[:, 0], rtol=1e-13, atol=1e-15)
    assert torch.equal(both.clipped_grad_norm[:, 0], both.grad_norm[:, 0])
    assert float(both.clipped_grad_norm[:, 1].max()) <= 1.0 + 1e-12


def test_curvature_methods_in_closed_form():
    q = playground.make_problem("quadratic", (1.0, 10.0), 30.0)
    eigenvalues, basis = q.eigen_at_minimum()
    torch.testing.assert_close(eigenvalues, torch.tensor([1.0, 10.0], dtype=torch.float64))
    torch.testing.assert_close(basis @ torch.diag(eigenvalues) @ basis.T, q.matrix)
    r = Rosenbrock()
    assert r.minimizer.tolist() == [1.0, 1.0]
    x = torch.tensor([[0.3, -0.2], [1.0, 1.0]], dtype=torch.float64)
    for problem in (r, Cosh(2), q):
        loss = problem.loss
        auto = torch.stack([torch.autograd.functional.hessian(lambda p, f=loss: f(p[None])[0], row) for row in x])
        torch.testing.assert_close(problem.hessian(x), auto)
    assert r.eigen_at_minimum()[0][-1] > 1000  # 2b + ... at (1, 1): the narrow valley
    noisy = playground.make_problem("cosh", noise_sigma=0.5)
    assert isinstance(noisy, Noisy) and isinstance(noisy.noise, CommonNoise)
    assert torch.equal(noisy.minimizer, torch.zeros(2, dtype=torch.float64))
    torch.testing.assert_close(noisy.eigen_at_minimum()[0], torch.ones(2, dtype=torch.float64))


def test_common_noise_repeats_one_draw_per_group():
    noise = CommonNoise(GaussianNoise(1.0), group=3)
    xi = noise.sample((6, 2), torch.Generator().manual_seed(0))
    assert torch.equal(xi[:3], xi[3:]) and not torch.equal(xi[0], xi[1])
    with pytest.raises(ValueError, match="multiple of the noise group size 3"):
        noise.sample((4, 2))


def test_measured_rates_match_the_closed_form_and_skip_what_cannot_be_measured():
    """GD at eta = 0.15 on eigenvalues (1, 10): rate max|1 - eta lambda| = 0.85 (the playground's default view)."""
    problem = playground.make_problem("quadratic", (1.0, 10.0), 30.0)
    configs = [playground.RunConfig("gd", 0.15), playground.RunConfig("gd", 0.3)]
    x0 = torch.tensor([[-1.8, 1.2]] * 2, dtype=torch.float64)
    traj = run(problem, playground.overlay_transform(configs), x0, 60)
    measured = playground.measured_rates(traj.iterates, problem.minimizer, traj.diverged_at)
    assert f"{float(measured[0]):.4f}" == f"{float(rates.gd_rate(0.15, (1.0, 10.0))):.4f}" == "0.8500"
    assert bool(traj.diverged[1]) and math.isnan(float(measured[1]))  # a diverged run has no rate
    assert torch.isnan(playground.measured_rates(traj.iterates[:3], problem.minimizer, [-1, -1])).all()


def test_loss_grid_layout():
    problem = Quadratic([1.0, 4.0])
    xs = torch.linspace(-1, 1, 5, dtype=torch.float64)
    ys = torch.linspace(-2, 2, 3, dtype=torch.float64)
    grid = loss_grid(Noisy(problem, GaussianNoise(1.0)), xs, ys)
    assert grid.shape == (3, 5)
    assert float(grid[2, 0]) == pytest.approx(0.5 * (1.0 * 1 + 4.0 * 4))  # f(xs[0], ys[2]) = f(-1, 2)


def test_bad_names_raise():
    with pytest.raises(ValueError, match="problem must be one of"):
        playground.make_problem("himmelblau")
    with pytest.raises(ValueError, match="method must be one of"):
        playground.overlay_transform([playground.RunConfig("adam")])
