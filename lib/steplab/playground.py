"""The dashboard playground's compute: problems by name, overlaid runs, readouts, divergence reasons.

Everything here is plain tensors in, tensors out (no Streamlit), so the app can cache it and the
tests can call it directly. The optimizer maths is ``steplab.transforms`` + ``steplab.trajectory.run``;
the curvature of each objective is a method of its problem class; the rates and stability edges
are ``steplab.rates``.

Overlaid runs (up to four) share one tensor program: every run gets its own step size, momentum,
clip threshold and method through per-run tensors (``clip = inf`` for an unclipped run,
``momentum(beta, nesterov=mask)`` for a mix of heavy ball and Nesterov, ``beta = 0`` for GD), and
:class:`~steplab.problems.CommonNoise` gives every run the *same* noise draws, so that "same seed"
means the same noise sequence in each run. Run 0 equals, up to rounding, what
``run(problem, optimizer(...), x0[:1], steps, seed=seed)`` computes on its own: a batched [R, 2]
matmul and the fused momentum update may round differently from the single-run program.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from steplab import rates
from steplab.device import resolve_device
from steplab.divergence import loss_growth
from steplab.problems import CommonNoise, Cosh, GaussianNoise, Noisy, Quadratic, Rosenbrock
from steplab.transforms import GradientTransform, chain, clip_by_norm, momentum, scale
from steplab.validation import check_range

Tensor = torch.Tensor
METHODS = ("gd", "heavy_ball", "nesterov")
METHOD_LABELS = {"gd": "GD", "heavy_ball": "heavy ball", "nesterov": "Nesterov"}
PROBLEMS = ("quadratic", "rosenbrock", "cosh")


@dataclass(frozen=True)
class RunConfig:
    """One optimizer setting: ``clip_threshold=None`` means unclipped."""

    method: str = "gd"
    eta: float = 0.1
    beta: float = 0.0
    clip_threshold: float | None = None

    def label(self) -> str:
        """``'heavy ball η=0.1 β=0.9 c=1'``: the method and the settings that apply to it."""
        parts = [METHOD_LABELS[self.method], f"η={self.eta:g}"]
        if self.method != "gd":
            parts.append(f"β={self.beta:g}")
        if self.clip_threshold is not None:
            parts.append(f"c={self.clip_threshold:g}")
        return " ".join(parts)


def make_problem(name: str, eigenvalues=(1.0, 10.0), rotation_deg: float = 30.0, noise_sigma: float = 0.0,
                 common_noise: bool = True, device: torch.device | str | None = None):
    """The playground's objective by name, optionally with Gaussian gradient noise of std ``noise_sigma``.

    ``common_noise=True`` gives every overlaid run the same draws (:class:`CommonNoise` with group 1).
    ``device=None``: :func:`steplab.device.resolve_device` (start points and transform on the same device).
    """
    device = resolve_device(device)
    if name == "quadratic":
        base = Quadratic(list(eigenvalues), rotation=math.radians(rotation_deg), device=device)
    elif name == "rosenbrock":
        base = Rosenbrock(device=device)
    elif name == "cosh":
        base = Cosh(dim=2, device=device)
    else:
        raise ValueError(f"problem must be one of {', '.join(PROBLEMS)}, got {name!r}")
    check_range("noise_sigma", noise_sigma, 0.0)
    if noise_sigma > 0:
        noise = GaussianNoise(noise_sigma)
        return Noisy(base, CommonNoise(noise) if common_noise else noise)
    return base


def overlay_transform(configs: list[RunConfig], device: torch.device | str | None = None) -> GradientTransform:
    """clip_by_norm(c_r) -> momentum(beta_r, nesterov_r) -> scale(eta_r) for runs r = 0..R-1.

    An unclipped run has c_r = inf, a GD run beta_r = 0. The per-run parameters are made on ``device``
    (None: :func:`steplab.device.resolve_device`), the device of the runs they drive.
    """
    device = resolve_device(device)
    for config in configs:
        if config.method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, got {config.method!r}")
    f64 = dict(dtype=torch.float64, device=device)
    clip = torch.tensor([math.inf if c.clip_threshold is None else c.clip_threshold for c in configs], **f64)
    beta = torch.tensor([0.0 if c.method == "gd" else c.beta for c in configs], **f64)
    eta = torch.tensor([c.eta for c in configs], **f64)
    nesterov = torch.tensor([c.method == "nesterov" for c in configs], device=device)
    return chain(clip_by_norm(clip), momentum(beta, nesterov), scale(eta))


def measured_rates(iterates: Tensor, minimizer: Tensor, diverged_at) -> Tensor:
    """Each run's measured contraction of ||x_t - x*|| over the second half of the steps so far, [R].

    ``iterates`` is [t + 1, R, 2]; the rate is :func:`steplab.rates.second_half_rate`. NaN where it
    cannot be measured: fewer than 2 steps in the window, x at the window's start equal to x*, or a
    run that diverged (``diverged_at[r] >= 0``).
    """
    iterates = torch.as_tensor(iterates, dtype=torch.float64)  # computed where the iterates are
    device = iterates.device
    distance = torch.linalg.vector_norm(iterates - torch.as_tensor(minimizer, dtype=torch.float64, device=device),
                                        dim=-1)
    t = distance.shape[0] - 1
    nan = torch.full((distance.shape[1],), math.nan, dtype=torch.float64, device=device)
    if t - t // 2 < 2:
        return nan
    rate = rates.second_half_rate(distance)
    ok = (distance[t // 2] > 0) & (torch.as_tensor(diverged_at, device=device).reshape(-1) < 0)
    return torch.where(ok, rate, nan)


def divergence_reason(problem, config: RunConfig, last_iterate: Tensor) -> str:
    """Why a run blew up, in words, e.g. ``'η = 0.6 > 2/L = 0.5'``.

    On a quadratic L = lambda_max; elsewhere L is the local curvature lambda_max(Hessian) at the last
    finite iterate before divergence.
    """
    x = last_iterate.reshape(1, 2).to(torch.float64)
    base = problem.base if isinstance(problem, Noisy) else problem
    local = not isinstance(base, Quadratic)
    if not bool(torch.isfinite(x).all()):
        return "the iterate overflowed"
    smoothness = float(torch.linalg.eigvalsh(problem.hessian(x)[0]).max())
    limit = rates.stability_limit(config.method, config.beta, smoothness)
    where = f" (local L = {smoothness:.3g} at x = ({x[0, 0]:.2g}, {x[0, 1]:.2g}))" if local else ""
    formula = rates.stability_limit_formula(config.method, config.beta)
    if config.eta > limit:
        return f"η = {config.eta:g} > {formula} = {limit:.3g}{where}"
    if isinstance(problem, Noisy):
        return f"gradient noise pushed it out: η = {config.eta:g} ≤ {formula} = {limit:.3g}{where}"
    return f"η = {config.eta:g} ≤ {formula} = {limit:.3g}, but the curvature grew along the path{where}"


def growth_note(problem, config: RunConfig, loss: Tensor, last_iterate: Tensor) -> str:
    """For a run not yet past the driver's loss cut-off: ``'diverging: the loss grows ×1.44 per step (steps 25–50);
    η = 0.55 > 2/L = 0.5'`` when its loss ``[t + 1]`` grows geometrically (:func:`steplab.divergence.loss_growth`,
    the criterion of the notebooks' ``Trajectory.divergence_message``), with :func:`divergence_reason`; else ``''``.
    """
    growth = loss_growth(loss)
    if not bool(growth.diverging[0]):
        return ""
    return f"{growth.message(0)}; {divergence_reason(problem, config, last_iterate)}"
