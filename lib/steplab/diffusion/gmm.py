"""An analytic class-conditional Gaussian mixture: exact denoiser and ε, with classifier-free guidance.

Class k is N(μ_k, s²I) with prior π_k. In the ε-form ODE coordinates x̄ = x0 + σn (n ~ N(0, I)) the
exact denoiser is (Tweedie; Karras et al. 2022, Eq. 3 for a mixture)

    D(x̄, σ) = Σ_k γ_k(x̄)·[μ_k + s²/(s²+σ²)·(x̄ − μ_k)],   γ_k ∝ π_k N(x̄; μ_k, (s²+σ²)I)  (log-sum-exp),
    ε̄(x̄, σ) = (x̄ − D)/σ = σ/(s²+σ²)·(x̄ − Σ_k γ_k μ_k),

and the class-c model restricts the sum to k = c: ε̄_c = σ/(s²+σ²)·(x̄ − μ_c). Classifier-free guidance
(Ho & Salimans 2022; Wizadwongsa et al. 2024, Eq. 5): ε̂ = ε̄_u + w·(ε̄_c − ε̄_u).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from steplab.device import EXACT_DTYPE, make_generator, resolve_device
from steplab.validation import check_int, check_nonnegative, check_positive

EpsFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class GaussianMixture:
    """K isotropic Gaussian classes N(μ_k, s²I); exact ε̄ for any noise level σ, batched over samples."""

    def __init__(self, means: torch.Tensor, std: float, weights: torch.Tensor | None = None):
        if means.ndim != 2:
            raise ValueError(f"means must have shape [classes, dim], got {tuple(means.shape)}")
        self.std = float(check_positive("std", std))
        self.means = means.to(EXACT_DTYPE)
        k = means.shape[0]
        weights = torch.full((k,), 1.0 / k, dtype=EXACT_DTYPE) if weights is None else weights.to(EXACT_DTYPE)
        check_positive("weights", weights)
        self.log_weights = torch.log(weights / weights.sum())
        self._cache: dict = {}

    @property
    def classes(self) -> int:
        return self.means.shape[0]

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    def _params(self, like: torch.Tensor):
        key = (like.dtype, like.device)
        if key not in self._cache:
            means = self.means.to(dtype=like.dtype, device=like.device)
            self._cache[key] = (means, 0.5 * (means * means).sum(-1), self.log_weights.to(like.dtype).to(like.device))
        return self._cache[key]

    def posterior_mean_of_class_means(self, x_bar: torch.Tensor, sigma) -> torch.Tensor:
        """Σ_k γ_k(x̄) μ_k with γ = softmax_k(log π_k + (x̄·μ_k − ½‖μ_k‖²)/(s² + σ²))."""
        means, half_sq, log_w = self._params(x_bar)
        var = self.std**2 + _col(sigma, x_bar) ** 2
        logits = log_w + (x_bar @ means.T - half_sq) / var  # log π_k + (x̄·μ_k − ½‖μ_k‖²)/(s² + σ²)
        return torch.softmax(logits, dim=-1) @ means  # Σ_k γ_k μ_k

    def epsilon(self, x_bar: torch.Tensor, sigma, labels: torch.Tensor | None = None,
                guidance: float = 0.0) -> torch.Tensor:
        """Guided ε̂ = ε̄_u + w(ε̄_c − ε̄_u) at noise level σ (scalar or [batch]); ``labels=None``: unconditional."""
        sig = _col(sigma, x_bar)
        scale = sig / (self.std**2 + sig * sig)  # σ/(s² + σ²)
        mixture_mean = self.posterior_mean_of_class_means(x_bar, sigma)
        if labels is None or guidance == 0.0:
            return scale * (x_bar - mixture_mean)  # ε̄_u = σ/(s²+σ²)·(x̄ − Σ_k γ_k μ_k)
        means = self._params(x_bar)[0]
        class_mean = means[labels]
        target = mixture_mean + guidance * (class_mean - mixture_mean)
        return scale * (x_bar - target)  # ε̂ = ε̄_u + w(ε̄_c − ε̄_u) = σ/(s²+σ²)·(x̄ − [m_u + w(μ_c − m_u)])

    def epsilon_jacobian(self, x_bar: torch.Tensor, sigma, labels: torch.Tensor | None = None,
                         guidance: float = 0.0) -> torch.Tensor:
        """∇_x̄ ε̂ = c·[I − (1 − w')·Cov_γ(μ)/(s² + σ²)], c = σ/(s² + σ²), [batch, d, d] (symmetric).

        Cov_γ(μ) = Σ_k γ_k μ_k μ_kᵀ − m mᵀ is the covariance of the class means under the responsibilities,
        w' = w with labels (guided), 0 without. Guidance w > 1 makes the eigenvalues large and positive:
        with δ < 0 the test-equation points z = δλ move left along the real axis (App. K: guidance amplifies
        the eigenvalues).
        """
        means, half_sq, log_w = self._params(x_bar)
        sig = _col(sigma, x_bar)
        var = self.std**2 + sig * sig
        gamma = torch.softmax(log_w + (x_bar @ means.T - half_sq) / var, dim=-1)
        mean = gamma @ means
        second = torch.einsum("bk,ki,kj->bij", gamma, means, means)
        cov = second - mean[:, :, None] * mean[:, None, :]
        w = guidance if labels is not None else 0.0
        eye = torch.eye(self.dim, dtype=x_bar.dtype, device=x_bar.device)
        return (sig / var)[..., None] * (eye - (1.0 - w) * cov / var[..., None])

    def eps_fn(self, labels: torch.Tensor | None = None, guidance: float = 0.0) -> EpsFn:
        """The guided ε̄(x̄, σ) as a two-argument function, the form every sampler takes."""
        check_nonnegative("guidance", guidance)
        if labels is not None and labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= self.classes):
            raise ValueError(f"labels must be in [0, {self.classes - 1}]")
        return lambda x_bar, sigma: self.epsilon(x_bar, sigma, labels, guidance)


def _col(sigma, like: torch.Tensor) -> torch.Tensor:
    """σ as a tensor broadcastable against a [batch, dim] tensor (scalar or per-sample)."""
    sigma = torch.as_tensor(sigma, dtype=like.dtype, device=like.device)
    return sigma.reshape(-1, 1) if sigma.ndim == 1 else sigma


def random_gmm(classes: int = 10, dim: int = 64, std: float = 0.1, seed: int = 0) -> GaussianMixture:
    """``classes`` Gaussians N(μ_k, std² I) in R^dim with μ_k independent random unit vectors (seeded)."""
    check_int("classes", classes, 1)
    check_int("dim", dim, 1)
    raw = torch.randn(classes, dim, generator=make_generator(seed, "cpu"), dtype=EXACT_DTYPE)  # same everywhere
    return GaussianMixture(raw / raw.norm(dim=-1, keepdim=True), std)


def ring_gmm(classes: int = 8, radius: float = 1.0, std: float = 0.05) -> GaussianMixture:
    """The 2-D picture model: ``classes`` Gaussians evenly spaced on a circle of ``radius``."""
    check_int("classes", classes, 1)
    check_positive("radius", radius)
    angle = torch.arange(classes, dtype=EXACT_DTYPE) * (2 * math.pi / classes)
    return GaussianMixture(radius * torch.stack([angle.cos(), angle.sin()], dim=-1), std)


def balanced_labels(batch: int, classes: int, device=None) -> torch.Tensor:
    """Labels 0, 1, …, K−1, 0, 1, … (``batch`` of them): every class equally represented, on ``device``
    (None: :func:`steplab.device.resolve_device`)."""
    return torch.arange(batch, device=resolve_device(device)) % classes


def noise(batch: int, dim: int, seed: int = 0, dtype: torch.dtype = EXACT_DTYPE, device=None) -> torch.Tensor:
    """x_T ~ N(0, I), shape [batch, dim], drawn in float32 from a seeded CPU generator (the same noise on every
    machine), then cast and moved to ``device`` (None: :func:`steplab.device.resolve_device`)."""
    draw = torch.randn(batch, dim, generator=make_generator(seed, "cpu"), dtype=torch.float32)
    return draw.to(dtype=dtype, device=resolve_device(device))
