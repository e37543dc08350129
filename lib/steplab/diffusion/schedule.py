"""The linear-β noise schedule (T = 1000) and the σ grids the samplers step on.

DDPM/ADM/SD linear schedule: β_t = linspace(1e-4, 0.02, T), ᾱ_t = Π_{s≤t}(1 − β_s) (Ho et al. 2020).
The ε-form ODE of Wizadwongsa et al. (2024, Eq. 2) uses σ_t = √((1 − ᾱ_t)/ᾱ_t) and x̄ = x_t/√ᾱ_t;
DPM-Solver++ uses the half-logSNR λ = log(α_t/σ_t^{VP}) = −log σ_t.
"""

from __future__ import annotations

import torch

from steplab.device import EXACT_DTYPE
from steplab.validation import check_int, check_positive

TRAIN_STEPS = 1000
BETA_START = 1e-4
BETA_END = 0.02
GRIDS = ("linear", "logsnr")


def alphas_cumprod(train_steps: int = TRAIN_STEPS, beta_start: float = BETA_START, beta_end: float = BETA_END,
                   dtype: torch.dtype = EXACT_DTYPE) -> torch.Tensor:
    """ᾱ_t = Π_{s≤t} (1 − β_s) for β linear from ``beta_start`` to ``beta_end`` over ``train_steps``."""
    check_int("train_steps", train_steps, 2)
    check_positive("beta_start", beta_start)
    check_positive("beta_end", beta_end)
    betas = torch.linspace(beta_start, beta_end, train_steps, dtype=dtype)
    return torch.cumprod(1.0 - betas, dim=0)  # ᾱ_t = Π_{s≤t} (1 − β_s)


def sigma_from_alpha_bar(alpha_bar: torch.Tensor) -> torch.Tensor:
    """σ = √((1 − ᾱ)/ᾱ): the noise level of x̄ = x_t/√ᾱ_t (Wizadwongsa et al. 2024, Eq. 2)."""
    return torch.sqrt((1.0 - alpha_bar) / alpha_bar)  # σ = √((1 − ᾱ)/ᾱ)


def lambda_from_sigma(sigma: torch.Tensor) -> torch.Tensor:
    """Half-logSNR λ = log(α_t/σ_t) = −log σ (Lu et al. 2022, DPM-Solver++)."""
    return -torch.log(sigma)


def linear_timesteps(steps: int, train_steps: int = TRAIN_STEPS) -> torch.Tensor:
    """t_i = round(linspace(T − 1, 0, N + 1)), i = 0..N (integer, decreasing), as in the paper's samplers."""
    check_int("steps", steps, 1)
    grid = torch.linspace(train_steps - 1, 0, steps + 1, dtype=torch.float64)
    return torch.round(grid).to(torch.long)


def sigma_grid(steps: int, spacing: str = "linear", alpha_bar: torch.Tensor | None = None) -> torch.Tensor:
    """Decreasing noise levels σ_0 > … > σ_N (float64) from t = T−1 down to t = 0.

    ``spacing="linear"``: σ at the rounded linear timesteps (:func:`linear_timesteps`);
    ``spacing="logsnr"``: λ = −log σ uniform between the same end points (DPM-Solver's grid).
    """
    check_int("steps", steps, 1)
    if spacing not in GRIDS:
        raise ValueError(f"spacing must be one of {', '.join(GRIDS)}, got {spacing!r}")
    alpha_bar = alphas_cumprod() if alpha_bar is None else alpha_bar.to(EXACT_DTYPE)
    sigmas = sigma_from_alpha_bar(alpha_bar)
    if spacing == "linear":
        return sigmas[linear_timesteps(steps, len(alpha_bar))]
    lam = torch.linspace(float(lambda_from_sigma(sigmas[-1])), float(lambda_from_sigma(sigmas[0])), steps + 1,
                         dtype=EXACT_DTYPE)
    return torch.exp(-lam)  # σ = e^{−λ}


def start_scale(sigma_max: torch.Tensor | float) -> torch.Tensor:
    """x̄_init = x_T/√ᾱ_{T−1} = x_T·√(1 + σ_max²): the ODE's start from pure noise x_T ~ N(0, I)."""
    sigma_max = torch.as_tensor(sigma_max, dtype=EXACT_DTYPE)
    return torch.sqrt(1.0 + sigma_max * sigma_max)  # 1/√ᾱ = √(1 + σ²)
