"""Pure compute glue for the dashboard's playground: problems by name, overlaid runs, divergence reasons.

Everything here is plain tensors in, tensors out (no Streamlit), so the app can cache it and the
tests can call it directly. The optimizer maths is ``steplab.transforms`` + ``steplab.trajectory.run``.

Overlaid runs (up to four) share one tensor program: every run gets its own step size, momentum,
clip threshold and method through per-run tensors, and :class:`CommonNoise` gives every run the
*same* noise draws, so that "same seed" means the same noise sequence in each run, and run 0 is
bit-for-bit what ``run(problem, optimizer(...), x0[:1], steps, seed=seed)`` computes on its own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from steplab import rates
from steplab.problems import Cosh, GaussianNoise, Noisy, Quadratic, Rosenbrock
from steplab.transforms import GradientTransform, chain, clip_by_norm, per_run, scale
from steplab.validation import check_range

Tensor = torch.Tensor
METHODS = ("gd", "heavy_ball", "nesterov")
METHOD_LABELS = {"gd": "GD", "heavy_ball": "heavy ball", "nesterov": "Nesterov"}
PROBLEMS = ("quadratic", "rosenbrock", "cosh")
NO_CLIP = 1e300  # a clip threshold that never binds: min(1, 1e300/||g||) = 1 for every finite gradient


@dataclass(frozen=True)
class RunConfig:
    """One optimizer setting: ``clip_threshold=None`` means unclipped."""

    method: str = "gd"
    eta: float = 0.1
    beta: float = 0.0
    clip_threshold: float | None = None

    def label(self) -> str:
        parts = [METHOD_LABELS[self.method], f"η={self.eta:g}"]
        if self.method != "gd":
            parts.append(f"β={self.beta:g}")
        if self.clip_threshold is not None:
            parts.append(f"c={self.clip_threshold:g}")
        return " ".join(parts)


class CommonNoise:
    """Wraps a noise model so that groups of runs receive the same draws (common random numbers).

    With ``group = G`` the runs are ``copies x G`` (configuration-major): one draw of shape ``[G, ...]``
    is repeated for every configuration, so each configuration's G runs see exactly the noise a
    single-configuration run with G runs and the same seed sees. ``group = 1``: all runs share one draw.
    """

    def __init__(self, noise, group: int = 1):
        self.noise = noise
        self.group = group

    def sample(self, shape, generator=None, dtype=torch.float64, device="cpu") -> Tensor:
        if shape[0] % self.group:
            raise ValueError(f"{shape[0]} runs are not a multiple of the noise group size {self.group}")
        one = self.noise.sample((self.group, *shape[1:]), generator, dtype, device)
        return one.repeat(shape[0] // self.group, *([1] * (len(shape) - 1)))


def make_problem(name: str, eigenvalues=(1.0, 10.0), rotation_deg: float = 30.0, noise_sigma: float = 0.0,
                 common_noise: bool = True, device: torch.device | str = "cpu"):
    """The playground's objective by name, optionally with Gaussian gradient noise of std ``noise_sigma``."""
    if name == "quadratic":
        base = Quadratic(list(eigenvalues), rotation=math.radians(rotation_deg), device=device)
    elif name == "rosenbrock":
        base = Rosenbrock()
    elif name == "cosh":
        base = Cosh(dim=2)
    else:
        raise ValueError(f"problem must be one of {', '.join(PROBLEMS)}, got {name!r}")
    check_range("noise_sigma", noise_sigma, 0.0)
    if noise_sigma > 0:
        noise = GaussianNoise(noise_sigma)
        return Noisy(base, CommonNoise(noise) if common_noise else noise)
    return base


def base_problem(problem):
    return problem.base if isinstance(problem, Noisy) else problem


def hessian(problem, x: Tensor) -> Tensor:
    """Hessian of the (noiseless) objective at points ``x`` [N, 2] -> [N, 2, 2] (closed form)."""
    base = base_problem(problem)
    if isinstance(base, Quadratic):
        return base.matrix.to(x.dtype).expand(x.shape[0], 2, 2)
    if isinstance(base, Cosh):
        return torch.diag_embed(torch.cosh(x))
    if isinstance(base, Rosenbrock):
        u, v = x[:, 0], x[:, 1]
        h11 = 2 - 4 * base.b * (v - u**2) + 8 * base.b * u**2
        h12 = -4 * base.b * u
        h22 = torch.full_like(u, 2 * base.b)
        return torch.stack([torch.stack([h11, h12], -1), torch.stack([h12, h22], -1)], -2)
    raise ValueError(f"no Hessian for {type(base).__name__}")


def minimizer(problem) -> Tensor:
    base = base_problem(problem)
    if isinstance(base, Quadratic):
        return base.minimizer
    if isinstance(base, Rosenbrock):
        return torch.tensor([base.a, base.a**2], dtype=torch.float64)
    return torch.zeros(2, dtype=torch.float64)


def eigen_at_minimum(problem) -> tuple[Tensor, Tensor]:
    """Eigenvalues (ascending) and eigenvectors (columns) of the Hessian at the minimizer."""
    h = hessian(problem, minimizer(problem).reshape(1, 2).to(torch.float64))[0]
    return torch.linalg.eigh(h)


def momentum_by_run(beta: float | Tensor, nesterov: Tensor) -> GradientTransform:
    """Heavy ball or Nesterov chosen per run (GD is beta = 0), so mixed overlays are one program.

    v_{t+1} = beta v_t + g_t;  u_t = v_{t+1} (heavy ball, Polyak 1964)
                               u_t = g_t + beta v_{t+1} (Nesterov, Sutskever et al. 2013)
    Identical, operation for operation, to ``transforms.heavy_ball`` / ``transforms.nesterov``.
    """
    check_range("beta", beta, 0.0, 1.0, high_inclusive=False)

    def init(params):
        return torch.zeros_like(params)

    def update(grads, velocity, params=None, info=None):
        b = per_run(beta, grads)
        velocity = velocity * b + grads
        mask = nesterov.to(grads.device).reshape(-1, *([1] * (grads.ndim - 1)))
        return torch.where(mask, grads + velocity * b, velocity), velocity

    return GradientTransform(init, update, "momentum_by_run")


def overlay_transform(configs: list[RunConfig]) -> GradientTransform:
    """clip_by_norm(c_r) -> momentum_by_run(beta_r) -> scale(eta_r) for runs r = 0..R-1."""
    for config in configs:
        if config.method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, got {config.method!r}")
    f64 = dict(dtype=torch.float64)
    clip = torch.tensor([NO_CLIP if c.clip_threshold is None else c.clip_threshold for c in configs], **f64)
    beta = torch.tensor([0.0 if c.method == "gd" else c.beta for c in configs], **f64)
    eta = torch.tensor([c.eta for c in configs], **f64)
    nesterov = torch.tensor([c.method == "nesterov" for c in configs])
    return chain(clip_by_norm(clip), momentum_by_run(beta, nesterov), scale(eta))


def stability_limit(method: str, beta: float, smoothness: float) -> float:
    """Largest stable step on a quadratic with lambda_max = L.

    GD: 2/L; heavy ball: 2(1 + beta)/L (Polyak 1964); Nesterov: 2(1 + beta)/((1 + 2 beta) L).
    """
    beta = 0.0 if method == "gd" else beta
    if method == "nesterov":
        return 2 * (1 + beta) / ((1 + 2 * beta) * smoothness)
    return 2 * (1 + beta) / smoothness


def _limit_formula(method: str, beta: float) -> str:
    if method == "gd" or beta == 0:
        return "2/L"
    if method == "heavy_ball":
        return "2(1+β)/L"
    return "2(1+β)/((1+2β)L)"


def divergence_reason(problem, config: RunConfig, last_iterate: Tensor) -> str:
    """Why a run blew up, in words, e.g. ``'η = 0.6 > 2/L = 0.5'``.

    On a quadratic L = lambda_max; elsewhere L is the local curvature lambda_max(Hessian) at the last
    finite iterate before divergence.
    """
    x = last_iterate.reshape(1, 2).to(torch.float64)
    local = not isinstance(base_problem(problem), Quadratic)
    if not bool(torch.isfinite(x).all()):
        return "the iterate overflowed"
    smoothness = float(torch.linalg.eigvalsh(hessian(problem, x)[0]).max())
    limit = stability_limit(config.method, config.beta, smoothness)
    where = f" (local L = {smoothness:.3g} at x = ({x[0, 0]:.2g}, {x[0, 1]:.2g}))" if local else ""
    formula = _limit_formula(config.method, config.beta)
    if config.eta > limit:
        return f"η = {config.eta:g} > {formula} = {limit:.3g}{where}"
    if isinstance(problem, Noisy):
        return f"gradient noise pushed it out: η = {config.eta:g} ≤ {formula} = {limit:.3g}{where}"
    return f"η = {config.eta:g} ≤ {formula} = {limit:.3g}, but the curvature grew along the path{where}"


def stability_map(eigenvalues, etas: Tensor, betas: Tensor) -> Tensor:
    """Heavy-ball convergence rate on a grid: [len(betas), len(etas)], one batched closed-form call."""
    return rates.heavy_ball_rate(etas.reshape(1, -1), betas.reshape(-1, 1), eigenvalues)


def loss_grid(problem, xs: Tensor, ys: Tensor) -> Tensor:
    """f on the grid ``xs`` x ``ys`` (noiseless), shape [len(ys), len(xs)]."""
    gx, gy = torch.meshgrid(xs, ys, indexing="xy")
    points = torch.stack([gx.flatten(), gy.flatten()], -1).to(torch.float64)
    return base_problem(problem).loss(points).reshape(len(ys), len(xs))
