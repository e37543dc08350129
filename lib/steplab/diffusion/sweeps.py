"""β sweeps and DPM-Solver++ with heavy ball on the analytic GMM (Wizadwongsa et al. 2024, §5.1–5.4, App. L).

* :func:`ghvb_beta_sweep`: GHVB 3.β for β = 0.1 … 0.9 and PLMS4 (β = 1) at N = 10 (divergence) and N = 30
  (accuracy): the paper's GHVB table (Table 6, artifacts grow with β) against its accuracy (Table 7).
* :func:`hb_beta_sweep`: HB on PLMS4 for several β, median error against N (Fig. 29: HB loses accuracy as β
  decreases), with DDIM for comparison.
* :func:`dpm_grid`: DPM-Solver++(2M) against DPM-Solver++ with HB across guidance w and steps N (Tables 1, 5:
  DPM-Solver++ also diverges at low N, HB reduces it).

All reuse :func:`steplab.diffusion.experiments.gmm_sweep` (same noise, labels and RK4 reference; cached).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from steplab.diffusion.experiments import Sweep, gmm_sweep

GHVB_BETAS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
GHVB_STEPS = (10, 30)
HB_BETAS = (1.0, 0.9, 0.8, 0.6, 0.4)
HB_STEPS = (15, 20, 30, 60, 120)
DPM_GUIDANCES = (15.0, 25.0, 40.0)
DPM_STEPS = (4, 5, 6, 8, 10)
DPM_METHODS = ("dpm++", "dpm++hb0.8", "dpm++hb0.6")


def ghvb_name(beta: float) -> str:
    """GHVB of order 4 with damping β (``ghvb3.β``); β = 1 is PLMS4."""
    return "plms4" if beta == 1.0 else f"ghvb{3 + beta:g}"


def hb_name(beta: float) -> str:
    """HB on PLMS4 with damping β (``hb3.β``); β = 1 is PLMS4."""
    return "plms4" if beta == 1.0 else f"hb{3 + beta:g}"


@dataclass(frozen=True)
class BetaSweep:
    """``divergence[β][N]`` and ``error[β][N]`` (median ℓ2) of one momentum family at damping β, plus DDIM's
    ``ddim_error[N]``; ``names[β]`` the sampler names."""

    betas: tuple[float, ...]
    steps: tuple[int, ...]
    names: dict[float, str]
    divergence: dict[float, dict[int, float]]
    error: dict[float, dict[int, float]]
    ddim_error: dict[int, float]
    batch: int

    def diverged_count(self, beta: float, steps: int) -> int:
        """How many samples diverged (‖x_N − x_ref‖ > 1) at damping ``beta`` and N = ``steps``."""
        return round(self.divergence[beta][steps] * self.batch)


def _beta_sweep(namer, betas, steps, seed: int, device=None) -> BetaSweep:
    names = {b: namer(b) for b in betas}
    sweep: Sweep = gmm_sweep(tuple(names.values()) + ("ddim",), tuple(steps), seed=seed, device=device)
    return BetaSweep(tuple(betas), tuple(steps), names, {b: sweep.divergence[names[b]] for b in betas},
                     {b: sweep.error[names[b]] for b in betas}, sweep.error["ddim"], sweep.batch)


@lru_cache(maxsize=4)
def ghvb_beta_sweep(seed: int = 0, device=None) -> BetaSweep:
    """GHVB 3.β, β in :data:`GHVB_BETAS`, at N = 10 and 30 on the guided GMM (d = 64, w = 15)."""
    return _beta_sweep(ghvb_name, GHVB_BETAS, GHVB_STEPS, seed, device)


@lru_cache(maxsize=4)
def hb_beta_sweep(seed: int = 0, device=None) -> BetaSweep:
    """HB 3.β, β in :data:`HB_BETAS`, at N in :data:`HB_STEPS` on the guided GMM (d = 64, w = 15)."""
    return _beta_sweep(hb_name, HB_BETAS, HB_STEPS, seed, device)


@dataclass(frozen=True)
class DpmGrid:
    """``divergence[m][w][N]`` and ``error[m][w][N]`` for m in ``methods`` over guidance × steps."""

    methods: tuple[str, ...]
    guidances: tuple[float, ...]
    steps: tuple[int, ...]
    divergence: dict[str, dict[float, dict[int, float]]]
    error: dict[str, dict[float, dict[int, float]]]
    batch: int

    def count(self, method: str, guidance: float, steps: int) -> int:
        """How many samples of ``method`` diverged at (w, N)."""
        return round(self.divergence[method][guidance][steps] * self.batch)

    def total(self, method: str) -> int:
        """Diverged samples of ``method`` summed over the whole (w, N) grid."""
        return sum(self.count(method, w, n) for w in self.guidances for n in self.steps)


@lru_cache(maxsize=4)
def dpm_grid(seed: int = 0, device=None) -> DpmGrid:
    """DPM-Solver++ with and without HB on the guided GMM at w in :data:`DPM_GUIDANCES`, N in :data:`DPM_STEPS`."""
    divergence = {m: {} for m in DPM_METHODS}
    error = {m: {} for m in DPM_METHODS}
    batch = 0
    for w in DPM_GUIDANCES:
        sweep = gmm_sweep(DPM_METHODS, DPM_STEPS, guidance=w, seed=seed, device=device)
        batch = sweep.batch
        for m in DPM_METHODS:
            divergence[m][w], error[m][w] = sweep.divergence[m], sweep.error[m]
    return DpmGrid(DPM_METHODS, DPM_GUIDANCES, DPM_STEPS, divergence, error, batch)
