"""Oracle tests: steplab's transforms against torch.optim.SGD and clip_grad_norm_."""

import math

import pytest
import torch

from steplab.transforms import (
    chain,
    clip_by_norm,
    clip_coordinatewise,
    clip_per_sample,
    heavy_ball,
    identity,
    momentum,
    nesterov,
    optimizer,
    scale,
)


def _grad_fn(x):
    """A non-quadratic gradient so that the comparison exercises more than linear maps."""
    return torch.sin(3 * x) + 0.5 * x**3


def _steplab_path(transform, x0, steps):
    x, state, path = x0.clone(), transform.init(x0), []
    for _ in range(steps):
        updates, state = transform.update(_grad_fn(x), state, x)
        x = x - updates
        path.append(x.clone())
    return torch.stack(path)


def _torch_path(x0, steps, lr, momentum, nesterov_flag, clip=None):
    paths = []
    for row in x0:
        p = torch.nn.Parameter(row.clone())
        opt = torch.optim.SGD([p], lr=lr, momentum=momentum, dampening=0, nesterov=nesterov_flag)
        path = []
        for _ in range(steps):
            opt.zero_grad()
            p.grad = _grad_fn(p.detach()).clone()
            if clip is not None:
                torch.nn.utils.clip_grad_norm_([p], clip)
            opt.step()
            path.append(p.detach().clone())
        paths.append(torch.stack(path))
    return torch.stack(paths, dim=1)


@pytest.mark.parametrize("beta", [0.0, 0.5, 0.9])
def test_heavy_ball_matches_torch_sgd(beta):
    x0 = torch.randn(4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    ours = _steplab_path(chain(heavy_ball(beta), scale(0.05)), x0, 30)
    ref = _torch_path(x0, 30, 0.05, beta, False)
    torch.testing.assert_close(ours, ref, rtol=0, atol=1e-12)


@pytest.mark.parametrize("beta", [0.3, 0.9])
def test_nesterov_matches_torch_sgd(beta):
    x0 = torch.randn(4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    ours = _steplab_path(chain(nesterov(beta), scale(0.05)), x0, 30)
    ref = _torch_path(x0, 30, 0.05, beta, True)
    torch.testing.assert_close(ours, ref, rtol=0, atol=1e-12)


def test_clip_by_norm_matches_clip_grad_norm():
    scales = torch.tensor([0.1, 1, 3, 10, 0.5, 100], dtype=torch.float64)[:, None]
    g = torch.randn(6, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(2)) * scales
    info = {}
    ours, _ = clip_by_norm(1.0).update(g, (), None, info)
    for r in range(g.shape[0]):
        p = torch.nn.Parameter(torch.zeros(5, dtype=torch.float64))
        p.grad = g[r].clone()
        total = torch.nn.utils.clip_grad_norm_([p], 1.0)
        torch.testing.assert_close(ours[r], p.grad, rtol=2e-6, atol=1e-12)  # torch adds 1e-6 to the norm
        assert math.isclose(float(info["grad_norm"][r]), float(total), rel_tol=1e-12)
    torch.testing.assert_close(info["clipped_grad_norm"], torch.linalg.vector_norm(ours, dim=1))
    assert float(info["clipped_grad_norm"].max()) <= 1.0 + 1e-12


def test_clipped_momentum_chain_matches_torch():
    x0 = torch.randn(3, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(3)) * 3
    ours = _steplab_path(optimizer(0.02, 0.8, "heavy_ball", clip_threshold=0.5), x0, 25)
    ref = _torch_path(x0, 25, 0.02, 0.8, False, clip=0.5)
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-7)  # clip_grad_norm_'s 1e-6 epsilon


def test_zero_gradient_is_left_alone():
    out, _ = clip_by_norm(1.0).update(torch.zeros(2, 3), (), None)
    assert torch.equal(out, torch.zeros(2, 3))


def test_clip_per_sample_is_mean_of_clipped_samples():
    g = torch.randn(2, 7, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(4)) * 4
    out, _ = clip_per_sample(1.5).update(g, (), None)
    expected = torch.stack([
        torch.stack([s * min(1.0, 1.5 / float(s.norm())) for s in g[r]]).mean(0) for r in range(2)
    ])
    torch.testing.assert_close(out, expected)
    with pytest.raises(ValueError, match="per-sample"):
        clip_per_sample(1.0).update(torch.ones(2, 3), (), None)


def test_clip_coordinatewise():
    g = torch.tensor([[3.0, -0.5, -7.0]], dtype=torch.float64)
    out, _ = clip_coordinatewise(1.0).update(g, (), None)
    assert out.tolist() == [[1.0, -0.5, -1.0]]


def test_per_run_parameters_equal_separate_runs():
    """A sweep with per-run (lr, beta, threshold) tensors gives the runs it would give alone."""
    values = ([0.01, 0.05, 0.1], [0.0, 0.5, 0.9], [0.3, 1.0, 5.0])
    lrs, betas, cs = (torch.tensor(v, dtype=torch.float64) for v in values)
    x0 = torch.randn(3, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(5)) * 2
    batched = _steplab_path(chain(clip_by_norm(cs), heavy_ball(betas), scale(lrs)), x0, 20)
    for r in range(3):
        alone = _steplab_path(chain(clip_by_norm(float(cs[r])), heavy_ball(float(betas[r])), scale(float(lrs[r]))),
                              x0[r:r + 1], 20)
        torch.testing.assert_close(batched[:, r], alone[:, 0], rtol=0, atol=1e-14)
    coord = _steplab_path(chain(clip_coordinatewise(cs), nesterov(betas), scale(lrs)), x0, 10)
    for r in range(3):
        alone = _steplab_path(chain(clip_coordinatewise(float(cs[r])), nesterov(float(betas[r])),
                                    scale(float(lrs[r]))), x0[r:r + 1], 10)
        torch.testing.assert_close(coord[:, r], alone[:, 0], rtol=0, atol=1e-14)


def test_inf_threshold_is_no_clipping():
    g = torch.randn(3, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(6)) * 1e3
    for make in (clip_by_norm, clip_coordinatewise):
        assert torch.equal(make(float("inf")).update(g, (), None)[0], g)
    mixed, _ = clip_by_norm(torch.tensor([float("inf"), 1.0, float("inf")], dtype=torch.float64)).update(g, (), None)
    assert torch.equal(mixed[[0, 2]], g[[0, 2]]) and math.isclose(float(mixed[1].norm()), 1.0, rel_tol=1e-12)
    per_sample, _ = clip_per_sample(float("inf")).update(g.reshape(3, 2, 2), (), None)
    torch.testing.assert_close(per_sample, g.reshape(3, 2, 2).mean(1), rtol=0, atol=0)
    for value in (float("nan"), float("-inf")):
        with pytest.raises(ValueError, match="threshold"):
            clip_by_norm(value)


def test_momentum_per_run_mask_equals_heavy_ball_and_nesterov_bit_for_bit():
    betas = torch.tensor([0.0, 0.5, 0.9, 0.3], dtype=torch.float64)
    mask = torch.tensor([False, True, False, True])
    x0 = torch.randn(4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(7))
    mixed = _steplab_path(chain(momentum(betas, mask), scale(0.05)), x0, 30)
    hb = _steplab_path(chain(heavy_ball(betas), scale(0.05)), x0, 30)
    nt = _steplab_path(chain(nesterov(betas), scale(0.05)), x0, 30)
    assert torch.equal(mixed[:, ~mask], hb[:, ~mask]) and torch.equal(mixed[:, mask], nt[:, mask])
    with pytest.raises(ValueError, match="bool"):
        momentum(0.5, torch.tensor([0, 1]))


def test_per_run_length_mismatch_is_an_error():
    with pytest.raises(ValueError, match="3 entries but there are 2 runs"):
        scale(torch.tensor([0.1, 0.2, 0.3])).update(torch.ones(2, 2), (), None)


@pytest.mark.parametrize(
    "make, value, pattern",
    [
        (scale, -0.1, r"lr must be finite and in \[0, inf\], got -0.1"),
        (scale, float("nan"), "lr must be finite"),
        (scale, float("inf"), "lr must be finite"),
        (clip_by_norm, 0.0, r"threshold must be finite and in \(0, inf\]"),
        (clip_by_norm, -1.0, "threshold"),
        (clip_per_sample, 0.0, "threshold"),
        (clip_coordinatewise, float("nan"), "threshold"),
        (heavy_ball, 1.0, r"beta must be finite and in \[0, 1\), got 1"),
        (heavy_ball, -0.1, "beta"),
        (nesterov, 1.5, "beta"),
    ],
)
def test_bad_hyperparameters_raise(make, value, pattern):
    with pytest.raises(ValueError, match=pattern):
        make(value)


def test_bad_per_run_entry_raises():
    with pytest.raises(ValueError, match="beta"):
        heavy_ball(torch.tensor([0.5, 1.2]))
    with pytest.raises(ValueError, match="method must be one of"):
        optimizer(0.1, method="adam")


def test_chain_needs_a_transform_and_identity_passes_through():
    with pytest.raises(ValueError):
        chain()
    g = torch.ones(2, 2)
    assert torch.equal(identity().update(g, (), None)[0], g)
