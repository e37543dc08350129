"""The diffusion family's checkable claims: each calls an experiment and checks it against thresholds written once.

Paper: Wizadwongsa, Chinchuthakun, Khungurn, Raj, Suwajanakorn, "Diffusion Sampling with Momentum for
Mitigating Divergence Artifacts", ICLR 2024 (arXiv 2307.11118). The GMM thresholds are bands around our
regression values (the paper runs Stable Diffusion, ADM and DiT, not an analytic mixture); they hold over seeds.
"""

from __future__ import annotations

import math

from steplab.claims import Result, between, close, combine, count_between, register
from steplab.device import cpu_threads
from steplab.diffusion import crosscheck, experiments

PAPER = "Wizadwongsa et al. 2024 (ICLR)"


@register("diffusion.stability_intervals", paper=PAPER, source="§2.3, App. A, Eqs. 31-47 (boundary loci)",
          statement="Real stability intervals (s(pi), 0) of AB-k+HB and GHVB-k: closed form = root-finding")
def _stability_intervals() -> Result:
    table = experiments.stability_table()
    return combine(close("max rel. err", table.worst_relative_difference, 0.0, 1e-6, show_value=False))


@register("diffusion.test_equation", paper=PAPER, source="§2.3, Eq. 10 (test equation u' = lambda u)",
          statement="Our samplers on u' = lambda u grow at 1.02x and decay at 0.98x the stability boundary")
def _test_equation() -> Result:
    with cpu_threads(1):
        checks = [experiments.growth_check(m, margin=0.02) for m in experiments.STABILITY_ROWS]
    return combine(between("min rate outside", min(c.rate_outside for c in checks), low=1.0, fmt=".4f"),
                   between("max rate inside", max(c.rate_inside for c in checks), high=1.0, fmt=".4f"))


@register("diffusion.toy_ode", paper=PAPER, source="App. C, Fig. 13",
          statement="x'=[[0,1],[-9,-10]]x, 26 steps: AB2 blows up (|x(3)|>1); Euler, HB 0.8/0.9, GHVB 1.8/1.9 < 0.1")
def _toy_ode() -> Result:
    norms = experiments.toy_norms(("plms2",) + experiments.TOY_STABLE).norms
    return combine(between("AB2 |x(3)|", norms["plms2"], low=1.0),
                   between("max other |x(3)|", max(norms[m] for m in experiments.TOY_STABLE), high=0.1))


@register("diffusion.gmm_divergence", paper=PAPER, source="§5.1-5.3 (divergence artifacts)",
          statement="GMM d=64, w=15, N=10: PLMS4 diverges often; HB3.8, GHVB3.5 rarely; DDIM, DPM++ never")
def _gmm_divergence() -> Result:
    sweep = experiments.gmm_sweep()
    n, total = {m: sweep.diverged_count(m, 10) for m in sweep.methods}, sweep.batch
    return combine(count_between("PLMS4", n["plms4"], total, low=math.ceil(0.5 * total)),
                   count_between("HB3.8", n["hb3.8"], total, high=math.floor(0.15 * total)),
                   between("HB3.8/PLMS4", n["hb3.8"] / max(n["plms4"], 1), high=0.25),
                   count_between("GHVB3.5", n["ghvb3.5"], total, high=math.floor(0.3 * total)),
                   between("GHVB3.8/PLMS4", n["ghvb3.8"] / max(n["plms4"], 1), high=1.0),
                   count_between("DDIM", n["ddim"], total, high=math.floor(0.01 * total)),
                   count_between("DPM++", n["dpm++"], total, high=math.floor(0.01 * total)),
                   count_between("HB3.9 - HB3.8", n["hb3.9"] - n["hb3.8"], total, low=0))


@register("diffusion.gmm_accuracy", paper=PAPER, source="§5.4, Fig. 29 (HB loses accuracy as beta decreases)",
          statement="GMM N=30 median error: GHVB3.8 keeps PLMS4's accuracy, HB3.8 loses it (HB < DDIM still)")
def _gmm_accuracy() -> Result:
    err = {m: e[30] for m, e in experiments.gmm_sweep().error.items()}
    return combine(between("GHVB3.8/PLMS4", err["ghvb3.8"] / err["plms4"], high=1.15, fmt=".2f"),
                   between("HB3.8/PLMS4", err["hb3.8"] / err["plms4"], low=1.3, fmt=".2f"),
                   between("HB3.9/PLMS4", err["hb3.9"] / err["plms4"], low=1.0, fmt=".2f"),
                   between("HB3.8/HB3.9", err["hb3.8"] / err["hb3.9"], low=1.0, fmt=".2f"),
                   between("DDIM/HB3.8", err["ddim"] / err["hb3.8"], low=1.0, fmt=".2f"))


@register("diffusion.orders", paper=PAPER, source="App. F, Theorems 1-2 (warm-up: Table 8's orders below r)",
          statement="HB is 1st order, GHVB-r order r; warm-up caps AB3/AB4 at 2, exact starts give 3/4")
def _orders() -> Result:
    table = experiments.order_table()
    return combine(close("max |observed - expected order|", table.worst_deviation, 0.0, 0.1, fmt=".2f"))


@register("diffusion.beta_one", paper=PAPER, source="§4.1-4.2 (beta = 1 recovers the base method)",
          statement="GHVB k.0 = HB k.0 = NT k.0 = PLMS-k and DPM++HB(1) = DPM++ on the guided GMM")
def _beta_one() -> Result:
    worst = experiments.beta_one_differences().worst
    return combine(close("max rel. difference", worst, 0.0, 1e-12, show_value=False))


@register("diffusion.ring_picture", paper=PAPER, source="Fig. 1 (divergence artifacts)",
          statement="2-D ring of 8 classes, w=15, N=8: PLMS4 flings samples off the ring; HB3.6 and DDIM do not")
def _ring_picture() -> Result:
    ring = experiments.ring_experiment()
    n, total = {m: ring.diverged_count(m, 8) for m in ring.methods}, ring.batch
    return combine(count_between("PLMS4", n["plms4"], total, low=math.ceil(0.3 * total)),
                   between("HB3.8/PLMS4", n["hb3.8"] / max(n["plms4"], 1), high=1.0),
                   count_between("HB3.6", n["hb3.6"], total, high=math.floor(0.01 * total)),
                   count_between("DDIM", n["ddim"], total, high=math.floor(0.01 * total)))


if crosscheck.diffusers_available():
    @register("diffusion.diffusers_match", paper="diffusers (Apache-2.0)",
              source="DDIMScheduler, PNDMScheduler, DPMSolverMultistepScheduler",
              statement="diffusers' DDIM, PNDM(skip_prk) and DPM-Solver++(2M) loops on our analytic eps equal ours")
    def _diffusers_match() -> Result:
        diffs = experiments.diffusers_differences().differences
        return combine(*(close(f"{name} max |diff|", value, 0.0, 1e-5, show_value=False)
                         for name, value in diffs.items()))
