"""Objectives with batched gradient oracles, and stochastic-gradient noise models.

A *problem* has ``dim`` and two methods on iterates ``x`` of shape ``[runs, dim]``:

    loss(x) -> [runs]
    oracle(x, generator=None) -> (loss [runs], grad [runs, dim])

Stochastic problems return a noisy gradient from ``oracle`` (and, with ``per_sample=True``,
per-sample gradients of shape ``[runs, batch, dim]`` for ``clip_per_sample``) while ``loss``
stays the true objective.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from steplab.validation import check_int, check_positive, check_range

Tensor = torch.Tensor


# ----------------------------------------------------------------------------- deterministic

@dataclass
class Quadratic:
    """f(x) = 1/2 (x - x*)^T A (x - x*),  A = U diag(eigenvalues) U^T.

    In 2-D, ``rotation`` (radians) sets U; in higher dimensions U is the identity unless
    ``basis`` is given. GD with step eta contracts eigen-direction i by |1 - eta lambda_i|,
    so it converges iff eta < 2 / lambda_max (the classic picture, e.g. Goh 2017).
    """

    eigenvalues: Tensor | list[float]
    rotation: float = 0.0
    minimizer: Tensor | None = None
    basis: Tensor | None = None
    dtype: torch.dtype = torch.float64
    device: torch.device | str = "cpu"

    def __post_init__(self):
        lam = torch.as_tensor(self.eigenvalues, dtype=self.dtype, device=self.device)
        if lam.ndim != 1 or lam.numel() < 1:
            raise ValueError("eigenvalues must be a non-empty 1-D list")
        check_range("eigenvalues", lam, 0.0)
        self.eigenvalues = lam
        self.dim = lam.numel()
        if self.basis is None:
            basis = torch.eye(self.dim, dtype=self.dtype, device=self.device)
            if self.dim == 2:
                c, s = math.cos(self.rotation), math.sin(self.rotation)
                basis = torch.tensor([[c, -s], [s, c]], dtype=self.dtype, device=self.device)
            self.basis = basis
        self.basis = self.basis.to(dtype=self.dtype, device=self.device)
        self.matrix = self.basis @ torch.diag(lam) @ self.basis.T
        if self.minimizer is None:
            self.minimizer = torch.zeros(self.dim, dtype=self.dtype, device=self.device)
        self.minimizer = torch.as_tensor(self.minimizer, dtype=self.dtype, device=self.device)
        self._at_origin = not bool(self.minimizer.any())

    @property
    def smoothness(self) -> float:
        """L = lambda_max."""
        return float(self.eigenvalues.max())

    def to_eigenbasis(self, x: Tensor) -> Tensor:
        """Coordinates of x - x* in the eigenbasis: z = U^T (x - x*), shape like x."""
        return (x - self.minimizer) @ self.basis

    def _offset(self, x: Tensor) -> Tensor:
        return x if self._at_origin else x - self.minimizer

    def loss(self, x: Tensor) -> Tensor:
        d = self._offset(x)
        return 0.5 * torch.linalg.vecdot(d @ self.matrix, d)

    def oracle(self, x: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        d = self._offset(x)
        grad = d @ self.matrix
        return 0.5 * torch.linalg.vecdot(grad, d), grad


@dataclass
class Cosh:
    """f(x) = sum_j cosh(x_j) - 1: (L0, L1)-smooth with L0 = L1 = 1, not L-smooth.

    Plain GD with a fixed step diverges from far starts; clipped GD converges
    (Zhang et al. 2020; Koloskova et al. 2023, Sec. 3).
    """

    dim: int = 1

    def loss(self, x: Tensor) -> Tensor:
        return (torch.cosh(x) - 1).sum(-1)

    def oracle(self, x: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        return self.loss(x), torch.sinh(x)


@dataclass
class Rosenbrock:
    """f(x, y) = (a - x)^2 + b (y - x^2)^2, minimum at (a, a^2) (Rosenbrock 1960)."""

    a: float = 1.0
    b: float = 100.0
    dim: int = 2

    def loss(self, x: Tensor) -> Tensor:
        u, v = x[..., 0], x[..., 1]
        return (self.a - u) ** 2 + self.b * (v - u**2) ** 2

    def oracle(self, x: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        u, v = x[..., 0], x[..., 1]
        inner = v - u**2
        grad = torch.stack([-2 * (self.a - u) - 4 * self.b * u * inner, 2 * self.b * inner], dim=-1)
        return (self.a - u) ** 2 + self.b * inner**2, grad


# ----------------------------------------------------------------------------- noise models

def _randn(shape, generator, dtype, device) -> Tensor:
    """Standard normals drawn in float32 (fast) and cast to ``dtype``."""
    return torch.randn(shape, generator=generator, dtype=torch.float32, device=device).to(dtype)


def _rand(shape, generator, dtype, device) -> Tensor:
    return torch.rand(shape, generator=generator, dtype=torch.float32, device=device).to(dtype)


@dataclass
class GaussianNoise:
    """xi ~ N(0, sigma^2 I)."""

    sigma: float = 1.0

    def __post_init__(self):
        check_positive("sigma", self.sigma)

    def sample(self, shape, generator=None, dtype=torch.float64, device="cpu") -> Tensor:
        return self.sigma * _randn(shape, generator, dtype, device)


@dataclass
class TwoPointNoise:
    """xi = +A with probability p, -B with probability 1 - p; mean 0, variance sigma^2.

    q = p / (1 - p),  A = sigma / sqrt(q),  B = sigma sqrt(q).  The exact bias construction of
    the clipping brief (Sec. 2.3), attaining Koloskova et al. (2023)'s min(sigma, sigma^2/c) floor.
    Applied independently to every coordinate.
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

    def sample(self, shape, generator=None, dtype=torch.float64, device="cpu") -> Tensor:
        hit = _rand(shape, generator, torch.float32, device) < self.p
        return torch.where(hit, self.outlier, -self.inlier).to(dtype)


@dataclass
class ExpNoise:
    """xi = sigma (E - 1), E ~ Exp(1): mean 0, variance sigma^2, median sigma (ln 2 - 1)."""

    sigma: float = 1.0

    def __post_init__(self):
        check_positive("sigma", self.sigma)

    def sample(self, shape, generator=None, dtype=torch.float64, device="cpu") -> Tensor:
        u = _rand(shape, generator, torch.float64, device)
        return (self.sigma * (-torch.log1p(-u) - 1)).to(dtype)


@dataclass
class CauchyNoise:
    """xi = scale * tan(pi (U - 1/2)): standard Cauchy, no mean, no variance."""

    scale: float = 1.0

    def __post_init__(self):
        check_positive("scale", self.scale)

    def sample(self, shape, generator=None, dtype=torch.float64, device="cpu") -> Tensor:
        u = _rand(shape, generator, torch.float64, device)
        return (self.scale * torch.tan(math.pi * (u - 0.5))).to(dtype)


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

    def sample(self, shape, generator=None, dtype=torch.float64, device="cpu") -> Tensor:
        hit = _rand(shape, generator, torch.float32, device) < self.p
        z = _randn(shape, generator, dtype, device)
        out = torch.where(hit, self.outlier_mean + self.outlier_std * z, self.inlier_std * z)
        return out - self.mean if self.centred else out


NOISE_MODELS = {
    "gaussian": GaussianNoise,
    "two_point": TwoPointNoise,
    "exp": ExpNoise,
    "cauchy": CauchyNoise,
    "mixture": GaussianMixtureNoise,
}


@dataclass
class Noisy:
    """A problem whose oracle returns grad f(x) + xi (mean over ``batch_size`` draws).

    With ``per_sample=True`` the oracle returns the ``batch_size`` per-sample gradients,
    shape ``[runs, batch, dim]``, for ``clip_per_sample``. ``loss`` is the noiseless objective.
    """

    base: object
    noise: object
    batch_size: int = 1
    per_sample: bool = False
    dim: int = field(init=False)

    def __post_init__(self):
        check_int("batch_size", self.batch_size, 1)
        self.dim = self.base.dim

    def loss(self, x: Tensor) -> Tensor:
        return self.base.loss(x)

    def oracle(self, x: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        loss, grad = self.base.oracle(x, generator)
        if self.batch_size == 1 and not self.per_sample:  # the common case: one draw, no reduction
            return loss, grad.add_(self.noise.sample(x.shape, generator, x.dtype, x.device))
        shape = (x.shape[0], self.batch_size, *x.shape[1:])
        xi = self.noise.sample(shape, generator, x.dtype, x.device)
        if self.per_sample:
            return loss, grad.unsqueeze(1) + xi
        return loss, grad + xi.mean(dim=1)
