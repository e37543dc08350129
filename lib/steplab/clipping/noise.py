"""Per-configuration noise for the batched bias simulator.

``steplab.problems`` noise models have scalar parameters. A sweep whose configurations use different
noise laws (the worst-case two-point family A = 2c, a slider over the outlier probability p) needs
parameters with one value per configuration. :func:`batched_sampler` stacks a list of models of one
type into [K, 1, 1, 1] parameter tensors and draws with the formula functions of ``steplab.noise``
(the ones the models' own ``sample`` methods call):

    two-point: xi = +A if U < p else -B          exp: xi = sigma (-log(1 - U) - 1)
    Cauchy:    xi = s tan(pi (U - 1/2))           Gaussian: xi = sigma Z
    mixture:   xi = (U < p) (mu_out + s_out Z) + (U >= p) s_in Z  [- p mu_out if centred]

The parameters are stacked in the sampling dtype, as ``TwoPointNoise.sample`` casts its A and B (so
B = 1/3 is -0.333... in float64 both ways). One known difference from a lone model's draws: in float32,
exp and Cauchy draws here multiply by sigma rounded to float32 (the stacked parameter), a lone model by
the float64 sigma (identical when sigma is a float32 number, e.g. 1.0).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from steplab.device import resolve_device
from steplab.noise import (
    CauchyNoise,
    ExpNoise,
    GaussianMixtureNoise,
    GaussianNoise,
    TwoPointNoise,
    cauchy_draw,
    exp_draw,
    gaussian_draw,
    mixture_draw,
    two_point_draw,
)

Tensor = torch.Tensor
Sampler = Callable[[tuple, torch.Generator], Tensor]


def _stack(models, attribute: str, dtype, device) -> Tensor:
    values = [float(getattr(m, attribute)) for m in models]
    return torch.tensor(values, dtype=dtype, device=device).reshape(-1, 1, 1, 1)


def batched_sampler(noise, configs: int, dtype=torch.float64, device=None) -> Sampler:
    """``sample(shape, generator)`` drawing noise of ``shape = [K, ...]`` with config k's law in row k.

    ``noise`` is one model (shared by all configs; its own ``sample`` is used) or a list of ``configs``
    models of one type.
    """
    device = resolve_device(device)
    if not isinstance(noise, Sequence):
        if not hasattr(noise, "sample"):
            raise ValueError(f"noise must be a noise model with a .sample method, got {type(noise).__name__}")
        return lambda shape, generator: noise.sample(shape, generator, dtype, device)
    models = list(noise)
    if len(models) != configs:
        raise ValueError(f"noise has {len(models)} models but there are {configs} configurations")
    kind = type(models[0])
    if any(type(m) is not kind for m in models):
        raise ValueError("a list of noise models must all have the same type")

    def uniform(shape, generator, precision=torch.float32):
        return torch.rand(shape, generator=generator, dtype=precision, device=device)

    def normal(shape, generator):
        return torch.randn(shape, generator=generator, dtype=torch.float32, device=device).to(dtype)

    if kind is TwoPointNoise:
        p = _stack(models, "p", torch.float32, device)
        outlier = _stack(models, "outlier", dtype, device)
        inlier = _stack(models, "inlier", dtype, device)
        return lambda shape, generator: two_point_draw(uniform(shape, generator), p, outlier, inlier)
    if kind is ExpNoise:
        sigma = _stack(models, "sigma", dtype, device)
        return lambda shape, generator: exp_draw(uniform(shape, generator, torch.float64), sigma).to(dtype)
    if kind is CauchyNoise:
        scale = _stack(models, "scale", dtype, device)
        return lambda shape, generator: cauchy_draw(uniform(shape, generator, torch.float64), scale).to(dtype)
    if kind is GaussianNoise:
        sigma = _stack(models, "sigma", dtype, device)
        return lambda shape, generator: gaussian_draw(normal(shape, generator), sigma)
    if kind is GaussianMixtureNoise:
        p = _stack(models, "p", torch.float32, device)
        params = {a: _stack(models, a, dtype, device) for a in ("inlier_std", "outlier_mean", "outlier_std", "mean")}
        centred = torch.tensor([m.centred for m in models], device=device).reshape(-1, 1, 1, 1)

        def mixture(shape, generator):
            hit = uniform(shape, generator) < p
            z = normal(shape, generator)
            shift = torch.where(centred, params["mean"], torch.zeros((), dtype=dtype, device=device))
            return mixture_draw(hit, z, params["inlier_std"], params["outlier_mean"], params["outlier_std"], shift)

        return mixture
    raise ValueError(f"no batched sampler for noise of type {kind.__name__}")
