"""Stochastic-gradient noise models: xi of a given shape, drawn from an explicit generator.

Each model has ``sample(shape, generator=None, dtype=torch.float64, device=None) -> Tensor`` (``device=None``:
``steplab.device.resolve_device()``; the generator must be on that device).
Uniforms and normals are drawn in float32 (fast) and cast where float64 is needed
(see ``steplab.device``). The formulas (``two_point_draw``, ``exp_draw`` ...) are written once here,
as functions of the uniform/normal draws and of parameters that may be numbers or tensors, so that
the per-configuration sampler in ``steplab.clipping.noise`` uses the same lines with one parameter
value per configuration. :class:`CommonNoise` gives groups of runs the same draws.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from steplab.device import resolve_device
from steplab.validation import check_int, check_positive, check_range

Tensor = torch.Tensor


def _randn(shape, generator, dtype, device) -> Tensor:
    """Standard normals drawn in float32 (fast) and cast to ``dtype``."""
    device = resolve_device(device)
    return torch.randn(shape, generator=generator, dtype=torch.float32, device=device).to(dtype)


def _rand(shape, generator, dtype, device) -> Tensor:
    device = resolve_device(device)
    return torch.rand(shape, generator=generator, dtype=torch.float32, device=device).to(dtype)


def gaussian_draw(z: Tensor, sigma: float | Tensor) -> Tensor:
    """xi = sigma Z from standard normals ``z``."""
    return sigma * z  # xi = sigma Z


def two_point_draw(u: Tensor, p: float | Tensor, outlier: float | Tensor, inlier: float | Tensor) -> Tensor:
    """xi = +A if U < p else -B, from uniforms ``u`` (A = ``outlier``, B = ``inlier``)."""
    return torch.where(u < p, outlier, -inlier)  # xi = +A w.p. p, -B w.p. 1 - p


def exp_draw(u: Tensor, sigma: float | Tensor) -> Tensor:
    """xi = sigma (E - 1) with E = -log(1 - U) ~ Exp(1), from uniforms ``u``."""
    return sigma * (-torch.log1p(-u) - 1)  # xi = sigma (E - 1)


def cauchy_draw(u: Tensor, scale: float | Tensor) -> Tensor:
    """xi = s tan(pi (U - 1/2)), standard Cauchy scaled by s, from uniforms ``u``."""
    return scale * torch.tan(math.pi * (u - 0.5))  # xi = s tan(pi (U - 1/2))


def mixture_draw(hit: Tensor, z: Tensor, inlier_std, outlier_mean, outlier_std, shift) -> Tensor:
    """xi = mu_out + s_out Z where ``hit`` (probability p), else s_in Z; minus ``shift`` (p mu_out to centre)."""
    return torch.where(hit, outlier_mean + outlier_std * z, inlier_std * z) - shift  # xi - E xi when centred


@dataclass
class GaussianNoise:
    """xi ~ N(0, sigma^2 I)."""

    sigma: float = 1.0

    def __post_init__(self):
        check_positive("sigma", self.sigma)

    def sample(self, shape, generator=None, dtype=torch.float64, device=None) -> Tensor:
        return gaussian_draw(_randn(shape, generator, dtype, device), self.sigma)


@dataclass
class TwoPointNoise:
    """xi = +A with probability p, -B with probability 1 - p; mean 0, variance sigma^2.

    q = p / (1 - p),  A = sigma / sqrt(q),  B = sigma sqrt(q): then p A = (1 - p) B (mean 0) and
    p A^2 + (1 - p) B^2 = sigma^2. Our bias construction for clipped SGD on f = x^2/2: for B <= c < A
    the clipped mean at x* is h(0) = p min(A, c) - (1 - p) min(B, c) = -p (A - c) != 0, and with the
    outlier at A = 2c the stationary bias is of order min(sigma, sigma^2/c), the floor of Koloskova
    et al. (2023). Applied independently to every coordinate.
    """

    sigma: float = 1.0
    p: float = 0.1

    def __post_init__(self):
        check_positive("sigma", self.sigma)
        check_range("p", self.p, 0.0, 1.0, low_inclusive=False, high_inclusive=False)

    @property
    def odds(self) -> float:
        return self.p / (1 - self.p)

    @property
    def outlier(self) -> float:
        """A = sigma / sqrt(q)."""
        return self.sigma / math.sqrt(self.odds)

    @property
    def inlier(self) -> float:
        """B = sigma sqrt(q) (the value is -B)."""
        return self.sigma * math.sqrt(self.odds)

    def sample(self, shape, generator=None, dtype=torch.float64, device=None) -> Tensor:
        device = resolve_device(device)
        u = _rand(shape, generator, torch.float32, device)
        # A and B as tensors of the sampling dtype: Python numbers would make torch.where return float32. Filled on
        # the device (torch.full), not copied there: no host-to-device copy each time noise is drawn
        outlier, inlier = (torch.full((), v, dtype=dtype, device=device) for v in (self.outlier, self.inlier))
        return two_point_draw(u, self.p, outlier, inlier)


@dataclass
class ExpNoise:
    """xi = sigma (E - 1), E ~ Exp(1): mean 0, variance sigma^2, median sigma (ln 2 - 1)."""

    sigma: float = 1.0

    def __post_init__(self):
        check_positive("sigma", self.sigma)

    def sample(self, shape, generator=None, dtype=torch.float64, device=None) -> Tensor:
        return exp_draw(_rand(shape, generator, torch.float64, device), self.sigma).to(dtype)


@dataclass
class CauchyNoise:
    """xi = scale * tan(pi (U - 1/2)): standard Cauchy, no mean, no variance."""

    scale: float = 1.0

    def __post_init__(self):
        check_positive("scale", self.scale)

    def sample(self, shape, generator=None, dtype=torch.float64, device=None) -> Tensor:
        return cauchy_draw(_rand(shape, generator, torch.float64, device), self.scale).to(dtype)


@dataclass
class GaussianMixtureNoise:
    """xi ~ (1 - p) N(mu_in, s_in^2) + p N(mu_out, s_out^2), centred to mean 0 when ``centred``."""

    p: float = 0.1
    inlier_std: float = 1.0
    outlier_mean: float = 10.0
    outlier_std: float = 1.0
    centred: bool = True

    def __post_init__(self):
        check_range("p", self.p, 0.0, 1.0, low_inclusive=False, high_inclusive=False)
        check_positive("inlier_std", self.inlier_std)
        check_positive("outlier_std", self.outlier_std)

    @property
    def mean(self) -> float:
        return self.p * self.outlier_mean

    def sample(self, shape, generator=None, dtype=torch.float64, device=None) -> Tensor:
        hit = _rand(shape, generator, torch.float32, device) < self.p
        z = _randn(shape, generator, dtype, device)
        return mixture_draw(hit, z, self.inlier_std, self.outlier_mean, self.outlier_std,
                            self.mean if self.centred else 0.0)


class CommonNoise:
    """Wraps a noise model so that groups of runs receive the same draws (common random numbers).

    With ``group = G`` the runs are ``copies x G`` (configuration-major): one draw of shape ``[G, ...]``
    is repeated for every configuration, so each configuration's G runs see exactly the noise a
    single-configuration run with G runs and the same seed sees. ``group = 1``: all runs share one draw.
    """

    def __init__(self, noise, group: int = 1):
        check_int("group", group, 1)
        self.noise = noise
        self.group = group

    def sample(self, shape, generator=None, dtype=torch.float64, device=None) -> Tensor:
        """One draw of shape ``[group, ...]`` from the wrapped model, repeated ``shape[0] // group`` times."""
        if shape[0] % self.group:
            raise ValueError(f"{shape[0]} runs are not a multiple of the noise group size {self.group}")
        one = self.noise.sample((self.group, *shape[1:]), generator, dtype, device)
        return one.repeat(shape[0] // self.group, *([1] * (len(shape) - 1)))


NOISE_MODELS = {
    "gaussian": GaussianNoise,
    "two_point": TwoPointNoise,
    "exp": ExpNoise,
    "cauchy": CauchyNoise,
    "mixture": GaussianMixtureNoise,
}
