"""Objectives with batched gradient oracles, and stochastic-gradient noise models.

A *problem* has ``dim`` and two methods on iterates ``x`` of shape ``[runs, dim]``:

    loss(x) -> [runs]
    oracle(x, generator=None) -> (loss [runs], grad [runs, dim])

Stochastic problems return a noisy gradient from ``oracle`` (and, with ``per_sample=True``,
per-sample gradients of shape ``[runs, batch, dim]`` for ``clip_per_sample``) while ``loss``
stays the true objective.

The deterministic problems also give their curvature in closed form: ``hessian(x) -> [runs, dim, dim]``,
``minimizer`` (a ``[dim]`` tensor) and ``eigen_at_minimum()``; :func:`loss_grid` evaluates ``loss`` on a
2-D grid for contour plots. The noise models live in ``steplab.noise`` and are importable from here too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from steplab.device import resolve_device
from steplab.noise import (  # noqa: F401  (re-exported: problems and their noise are imported together)
    NOISE_MODELS,
    CauchyNoise,
    CommonNoise,
    ExpNoise,
    GaussianMixtureNoise,
    GaussianNoise,
    TwoPointNoise,
)
from steplab.validation import check_int, check_range

Tensor = torch.Tensor


# ----------------------------------------------------------------------------- deterministic

class _Curvature:
    """``eigen_at_minimum`` for problems that define ``hessian(x)`` and ``minimizer``."""

    def eigen_at_minimum(self) -> tuple[Tensor, Tensor]:
        """Eigenvalues (ascending) and eigenvectors (columns) of the Hessian at the minimizer."""
        return torch.linalg.eigh(self.hessian(self.minimizer.reshape(1, -1).to(torch.float64))[0])


@dataclass
class Quadratic(_Curvature):
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
    device: torch.device | str | None = None  # None: steplab.device.resolve_device(); iterates elsewhere move A once

    def __post_init__(self):
        self.device = resolve_device(self.device)
        lam = torch.as_tensor(self.eigenvalues, dtype=self.dtype)  # checked where it was given, then moved
        if lam.ndim != 1 or lam.numel() < 1:
            raise ValueError("eigenvalues must be a non-empty 1-D list")
        check_range("eigenvalues", lam, 0.0)
        lam = lam.to(self.device)
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
        self._at_origin = self.minimizer is None or not bool(torch.as_tensor(self.minimizer).any())
        if self.minimizer is None:
            self.minimizer = torch.zeros(self.dim, dtype=self.dtype, device=self.device)
        self.minimizer = torch.as_tensor(self.minimizer, dtype=self.dtype, device=self.device)
        self._elsewhere: dict = {}  # matrix and minimizer on other devices, for iterates that live there

    @property
    def smoothness(self) -> float:
        """L = lambda_max."""
        return float(self.eigenvalues.max())

    def _on(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(A, x*, U) on x's device: the problem computes where its iterates are (moved once per device)."""
        if x.device == self.matrix.device:
            return self.matrix, self.minimizer, self.basis
        if x.device not in self._elsewhere:
            self._elsewhere[x.device] = tuple(t.to(x.device) for t in (self.matrix, self.minimizer, self.basis))
        return self._elsewhere[x.device]

    def to_eigenbasis(self, x: Tensor) -> Tensor:
        """Coordinates of x - x* in the eigenbasis: z = U^T (x - x*), shape like x."""
        _, minimizer, basis = self._on(x)
        return (x - minimizer) @ basis

    def _offset(self, x: Tensor) -> Tensor:
        return x if self._at_origin else x - self._on(x)[1]

    def loss(self, x: Tensor) -> Tensor:
        d = self._offset(x)
        return 0.5 * torch.linalg.vecdot(d @ self._on(x)[0], d)

    def oracle(self, x: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        d = self._offset(x)
        grad = d @ self._on(x)[0]
        return 0.5 * torch.linalg.vecdot(grad, d), grad

    def hessian(self, x: Tensor) -> Tensor:
        """A for every point: ``[runs, dim, dim]``."""
        return self._on(x)[0].to(x.dtype).expand(x.shape[0], self.dim, self.dim)


@dataclass
class Cosh(_Curvature):
    """f(x) = sum_j cosh(x_j) - 1: (L0, L1)-smooth with L0 = L1 = 1, not L-smooth.

    Plain GD with a fixed step diverges from far starts; clipped GD converges
    (Zhang et al. 2020; Koloskova et al. 2023, Sec. 3).
    """

    dim: int = 1
    device: torch.device | str | None = None  # where ``minimizer`` lives (None: steplab.device.resolve_device())

    def __post_init__(self):
        self.device = resolve_device(self.device)

    def loss(self, x: Tensor) -> Tensor:
        return (torch.cosh(x) - 1).sum(-1)

    def oracle(self, x: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        return self.loss(x), torch.sinh(x)

    @property
    def minimizer(self) -> Tensor:
        """x* = 0."""
        return torch.zeros(self.dim, dtype=torch.float64, device=self.device)

    def hessian(self, x: Tensor) -> Tensor:
        """diag(cosh(x_j)): ``[runs, dim, dim]``."""
        return torch.diag_embed(torch.cosh(x))


@dataclass
class Rosenbrock(_Curvature):
    """f(x, y) = (a - x)^2 + b (y - x^2)^2, minimum at (a, a^2) (Rosenbrock 1960)."""

    a: float = 1.0
    b: float = 100.0
    dim: int = 2
    device: torch.device | str | None = None  # where ``minimizer`` lives (None: steplab.device.resolve_device())

    def __post_init__(self):
        self.device = resolve_device(self.device)

    def loss(self, x: Tensor) -> Tensor:
        u, v = x[..., 0], x[..., 1]
        return (self.a - u) ** 2 + self.b * (v - u**2) ** 2

    def oracle(self, x: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        u, v = x[..., 0], x[..., 1]
        inner = v - u**2
        grad = torch.stack([-2 * (self.a - u) - 4 * self.b * u * inner, 2 * self.b * inner], dim=-1)
        return (self.a - u) ** 2 + self.b * inner**2, grad

    @property
    def minimizer(self) -> Tensor:
        """x* = (a, a^2)."""
        return torch.tensor([self.a, self.a**2], dtype=torch.float64, device=self.device)

    def hessian(self, x: Tensor) -> Tensor:
        """[[2 - 4b(y - x^2) + 8b x^2, -4b x], [-4b x, 2b]] at every point: ``[runs, 2, 2]``."""
        u, v = x[:, 0], x[:, 1]
        h11 = 2 - 4 * self.b * (v - u**2) + 8 * self.b * u**2
        h12 = -4 * self.b * u
        h22 = torch.full_like(u, 2 * self.b)
        return torch.stack([torch.stack([h11, h12], -1), torch.stack([h12, h22], -1)], -2)


def loss_grid(problem, xs: Tensor, ys: Tensor) -> Tensor:
    """``problem.loss`` (noiseless for :class:`Noisy`) on the grid ``xs`` x ``ys``: shape [len(ys), len(xs)].

    Row i, column j is f(xs[j], ys[i]) (``meshgrid(indexing="xy")``, the layout ``contour`` expects).
    """
    gx, gy = torch.meshgrid(xs, ys, indexing="xy")
    points = torch.stack([gx.flatten(), gy.flatten()], -1).to(torch.float64)
    return problem.loss(points).reshape(len(ys), len(xs))


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

    @property
    def minimizer(self) -> Tensor:
        """The base problem's minimizer (the noise has mean 0)."""
        return self.base.minimizer

    def hessian(self, x: Tensor) -> Tensor:
        """The base problem's Hessian."""
        return self.base.hessian(x)

    def eigen_at_minimum(self) -> tuple[Tensor, Tensor]:
        """The base problem's Hessian eigenpairs at its minimizer."""
        return self.base.eigen_at_minimum()

    def oracle(self, x: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        loss, grad = self.base.oracle(x, generator)
        if self.batch_size == 1 and not self.per_sample:  # the common case: one draw, no reduction
            return loss, grad.add_(self.noise.sample(x.shape, generator, x.dtype, x.device))
        shape = (x.shape[0], self.batch_size, *x.shape[1:])
        xi = self.noise.sample(shape, generator, x.dtype, x.device)
        if self.per_sample:
            return loss, grad.unsqueeze(1) + xi
        return loss, grad + xi.mean(dim=1)
