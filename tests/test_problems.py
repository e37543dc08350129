"""Problems and noise models: gradients match autograd, noise has the stated moments."""

import math

import pytest
import torch

from steplab import rates
from steplab.problems import (
    CauchyNoise,
    Cosh,
    ExpNoise,
    GaussianMixtureNoise,
    GaussianNoise,
    Noisy,
    Quadratic,
    Rosenbrock,
    TwoPointNoise,
)


@pytest.mark.parametrize("problem", [Quadratic([0.5, 3.0], rotation=0.7), Cosh(3), Rosenbrock()])
def test_oracle_gradient_matches_autograd(problem):
    x = torch.randn(5, problem.dim, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    loss, grad = problem.oracle(x)
    xr = x.clone().requires_grad_(True)
    (auto,) = torch.autograd.grad(problem.loss(xr).sum(), xr)
    torch.testing.assert_close(grad, auto)
    torch.testing.assert_close(loss, problem.loss(x))


def test_quadratic_eigenbasis():
    q = Quadratic([0.2, 4.0], rotation=math.pi / 6, minimizer=torch.tensor([1.0, -1.0]))
    torch.testing.assert_close(torch.linalg.eigvalsh(q.matrix), torch.tensor([0.2, 4.0], dtype=torch.float64))
    x = torch.tensor([[2.0, 0.5]], dtype=torch.float64)
    z = q.to_eigenbasis(x)
    torch.testing.assert_close(0.5 * (q.eigenvalues * z**2).sum(-1), q.loss(x))
    assert q.smoothness == 4.0
    with pytest.raises(ValueError, match="eigenvalues"):
        Quadratic([-1.0, 2.0])


@pytest.mark.parametrize(
    "noise, mean, var",
    [
        (GaussianNoise(2.0), 0.0, 4.0),
        (TwoPointNoise(sigma=1.5, p=0.2), 0.0, 2.25),
        (ExpNoise(1.0), 0.0, 1.0),
        (GaussianMixtureNoise(p=0.1, outlier_mean=5.0), 0.0, 0.9 * 1 + 0.1 * 26 - 0.25),
    ],
)
def test_noise_moments(noise, mean, var):
    xi = noise.sample((400_000,), torch.Generator().manual_seed(1))
    assert abs(float(xi.mean()) - mean) < 5 * math.sqrt(var / 400_000) + 1e-3
    assert abs(float(xi.var()) / var - 1) < 0.03


def test_two_point_values_and_exp_median():
    noise = TwoPointNoise(sigma=1.0, p=0.2)  # q = 1/4: A = 2, B = 1/2
    assert math.isclose(noise.outlier, 2.0) and math.isclose(noise.inlier, 0.5)
    xi = noise.sample((10_000,), torch.Generator().manual_seed(2))
    assert set(xi.unique().tolist()) == {2.0, -0.5}
    e = ExpNoise(1.0).sample((200_000,), torch.Generator().manual_seed(3))
    assert abs(float(e.median()) - (math.log(2) - 1)) < 0.01
    c = CauchyNoise(1.0).sample((200_000,), torch.Generator().manual_seed(4))
    assert abs(float(c.median())) < 0.02 and abs(float(c.abs().median()) - 1.0) < 0.02


@pytest.mark.parametrize("make", [lambda: GaussianNoise(0.0), lambda: TwoPointNoise(1.0, 1.0),
                                  lambda: TwoPointNoise(-1.0, 0.5), lambda: CauchyNoise(0.0),
                                  lambda: Noisy(Quadratic([1.0]), GaussianNoise(), batch_size=0)])
def test_bad_noise_parameters(make):
    with pytest.raises(ValueError):
        make()


def test_noisy_oracle_shapes_and_mean():
    problem = Noisy(Quadratic([1.0, 2.0]), GaussianNoise(1.0), batch_size=3)
    x = torch.ones(4, 2, dtype=torch.float64)
    _, g = problem.oracle(x, torch.Generator().manual_seed(0))
    assert g.shape == (4, 2)
    per_sample = Noisy(Quadratic([1.0, 2.0]), GaussianNoise(1.0), batch_size=3, per_sample=True)
    _, gs = per_sample.oracle(x, torch.Generator().manual_seed(0))
    assert gs.shape == (4, 3, 2)
    torch.testing.assert_close(gs.mean(1), g)


def test_rates_closed_forms():
    lam = (0.2, 4.0)
    assert math.isclose(float(rates.gd_rate(0.4, lam)), 0.92)
    assert math.isclose(float(rates.heavy_ball_rate(0.6, 0.5, lam)), math.sqrt(0.5), rel_tol=1e-12)
    assert float(rates.heavy_ball_rate(0.6, 0.0, lam)) == pytest.approx(1.4)  # beta = 0 is GD
    beta_c = float(rates.critical_damping_beta(0.1, 4.0))
    assert beta_c == pytest.approx((1 - math.sqrt(0.4)) ** 2)
    assert float(rates.heavy_ball_rate(0.1, beta_c, (4.0,))) == pytest.approx(math.sqrt(beta_c), rel=1e-6)
    grid = rates.heavy_ball_rate(torch.linspace(0.1, 1, 5)[None, :], torch.linspace(0, 0.9, 4)[:, None], lam)
    assert grid.shape == (4, 5)
