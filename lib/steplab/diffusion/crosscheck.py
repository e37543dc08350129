"""Cross-check our samplers against diffusers' schedulers driven by the same analytic ε.

diffusers works in x_t = √ᾱ_t x̄ with ε_θ(x_t, t) = ε̄(x_t/√ᾱ_t, σ_t). Matching conventions:
* ``DDIMScheduler`` (η = 0, clip_sample=False, "leading" spacing, final ᾱ = 1) = our Euler/DDIM on the
  same σ grid ending at σ = 0;
* ``PNDMScheduler(skip_prk_steps=True)`` = PLMS4 whose first step is a 2-NFE Heun step (``warmup="heun"``);
* ``DPMSolverMultistepScheduler(dpmsolver++, order 2, midpoint)`` = our DPM-Solver++(2M) on its σ grid
  (first and last steps first order, final σ = 0 returns D).
diffusers keeps ᾱ in float32, so our grids use its ``alphas_cumprod`` and agreement is to ≈1e-6.
"""

from __future__ import annotations

import importlib.util

import torch

from steplab.diffusion.samplers import sample
from steplab.diffusion.schedule import BETA_END, BETA_START, TRAIN_STEPS, sigma_from_alpha_bar
from steplab.optional import require

SCHEDULERS = {"ddim": "DDIMScheduler", "plms4": "PNDMScheduler", "dpm++": "DPMSolverMultistepScheduler"}


def diffusers_available() -> bool:
    """Is the optional ``diffusers`` package importable?"""
    return importlib.util.find_spec("diffusers") is not None


def make_scheduler(method: str, steps: int):
    """The diffusers scheduler matching ``method`` ("ddim", "plms4", "dpm++"), timesteps set for ``steps``."""
    diffusers = require("diffusers", "steplab.diffusion.crosscheck")
    if method not in SCHEDULERS:
        raise ValueError(f"method must be one of {', '.join(SCHEDULERS)}, got {method!r}")
    common = dict(num_train_timesteps=TRAIN_STEPS, beta_start=BETA_START, beta_end=BETA_END, beta_schedule="linear")
    if method == "ddim":
        scheduler = diffusers.DDIMScheduler(**common, clip_sample=False, set_alpha_to_one=True)
    elif method == "plms4":
        scheduler = diffusers.PNDMScheduler(**common, skip_prk_steps=True, set_alpha_to_one=True)
    else:
        scheduler = diffusers.DPMSolverMultistepScheduler(**common, algorithm_type="dpmsolver++", solver_order=2,
                                                          solver_type="midpoint")
    scheduler.set_timesteps(steps)
    return scheduler


def vp_epsilon(eps_bar, alpha_bar: torch.Tensor):
    """ε_θ(x_t, t) = ε̄(x_t/√ᾱ_t, σ_t): the ε-prediction model diffusers expects, from our ε̄(x̄, σ)."""
    def model(x_t: torch.Tensor, t) -> torch.Tensor:
        ab = alpha_bar[int(t)].to(x_t.dtype)
        return eps_bar(x_t / torch.sqrt(ab), sigma_from_alpha_bar(ab))
    return model


def diffusers_sample(scheduler, model, x_T: torch.Tensor) -> torch.Tensor:
    """The standard diffusers loop: for t in timesteps: x = scheduler.step(ε(x, t), t, x).prev_sample."""
    x = x_T
    for t in scheduler.timesteps:
        x = scheduler.step(model(x, t), t, x).prev_sample
    return x


def matching_sigmas(method: str, scheduler) -> torch.Tensor:
    """Our σ grid reproducing the scheduler's timesteps (duplicates removed) and its final σ = 0."""
    alpha_bar = scheduler.alphas_cumprod.to(torch.float64)
    if method == "dpm++":
        return scheduler.sigmas.to(torch.float64)
    unique = torch.unique_consecutive(scheduler.timesteps.to(torch.long))
    return torch.cat([sigma_from_alpha_bar(alpha_bar[unique]), torch.zeros(1, dtype=torch.float64)])


def compare(method: str, eps_bar, x_T: torch.Tensor, steps: int = 12) -> tuple[torch.Tensor, torch.Tensor]:
    """(ours, diffusers') final samples for ``method`` in {"ddim", "plms4", "dpm++"} from the same x_T."""
    scheduler = make_scheduler(method, steps)
    alpha_bar = scheduler.alphas_cumprod.to(torch.float64)
    theirs = diffusers_sample(scheduler, vp_epsilon(eps_bar, alpha_bar), x_T)
    sigmas = matching_sigmas(method, scheduler)
    options = {"warmup": "heun"} if method == "plms4" else {}
    ours = sample(eps_bar, method, len(sigmas) - 1, x_T=x_T, sigmas=sigmas, **options)
    return ours, theirs
