"""The diffusion family's checkable claims: each calls an experiment and checks it against thresholds written once.

Paper: Wizadwongsa, Chinchuthakun, Khungurn, Raj, Suwajanakorn, "Diffusion Sampling with Momentum for
Mitigating Divergence Artifacts", ICLR 2024 (arXiv 2307.11118). The GMM thresholds are bands around our
regression values (the paper runs Stable Diffusion, ADM and DiT, not an analytic mixture); they hold over seeds.
"""

from __future__ import annotations

import math

from steplab.claims import Result, between, close, combine, count_between, register
from steplab.device import cpu_threads
from steplab.diffusion import crosscheck, experiments, sweeps, theory, trace

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


@register("diffusion.stability_shape", paper=PAPER, source="§4.1, Fig. 4; App. A (HB region)",
          statement="HB beta stretches the real interval by (2-beta)/beta but lowers the region near the "
                    "imaginary axis: at Re z = -0.02, height 0.419 (PLMS4) vs 0.291 (HB3.8)")
def _stability_shape() -> Result:
    stretch = theory.real_interval_closed_form("hb3.8") / theory.real_interval_closed_form("plms4")
    return combine(close("HB3.8/PLMS4 real interval", stretch, (2 - 0.8) / 0.8, 1e-9, fmt=".3f"),
                   close("PLMS4 height", theory.stable_height("plms4"), 0.419, 2e-3, fmt=".3f"),
                   close("HB3.8 height", theory.stable_height("hb3.8"), 0.291, 2e-3, fmt=".3f"))


@register("diffusion.gmm_divergence", paper=PAPER, source="§5.1-5.3 (divergence artifacts)",
          statement="GMM d=64, w=15, N=10: PLMS4 diverges often; HB3.8, GHVB3.5 rarely; DDIM, DPM++ not at this "
                    "(w, N); median error HB3.8 < GHVB3.5 < DDIM < PLMS4")
def _gmm_divergence() -> Result:
    sweep = experiments.gmm_sweep()
    n, total = {m: sweep.diverged_count(m, 10) for m in sweep.methods}, sweep.batch
    err = {m: e[10] for m, e in sweep.error.items()}
    return combine(count_between("PLMS4", n["plms4"], total, low=math.ceil(0.5 * total)),
                   count_between("HB3.8", n["hb3.8"], total, high=math.floor(0.15 * total)),
                   between("HB3.8/PLMS4", n["hb3.8"] / max(n["plms4"], 1), high=0.25),
                   count_between("GHVB3.5", n["ghvb3.5"], total, high=math.floor(0.3 * total)),
                   between("GHVB3.8/PLMS4", n["ghvb3.8"] / max(n["plms4"], 1), high=1.0),
                   count_between("DDIM", n["ddim"], total, high=math.floor(0.01 * total)),
                   count_between("DPM++", n["dpm++"], total, high=math.floor(0.01 * total)),
                   count_between("HB3.9 - HB3.8", n["hb3.9"] - n["hb3.8"], total, low=0),
                   between("err GHVB3.5/HB3.8", err["ghvb3.5"] / err["hb3.8"], low=1.0, fmt=".2f"),
                   between("err DDIM/GHVB3.5", err["ddim"] / err["ghvb3.5"], low=1.0, fmt=".2f"),
                   between("err PLMS4/DDIM", err["plms4"] / err["ddim"], low=1.5, fmt=".2f"))


@register("diffusion.gmm_accuracy", paper=PAPER, source="§5.4, Fig. 29 (HB loses accuracy as beta decreases)",
          statement="GMM N=30 median error: GHVB3.8 keeps PLMS4's accuracy, HB3.8 loses it (HB < DDIM still)")
def _gmm_accuracy() -> Result:
    err = {m: e[30] for m, e in experiments.gmm_sweep().error.items()}
    return combine(between("GHVB3.8/PLMS4", err["ghvb3.8"] / err["plms4"], high=1.15, fmt=".2f"),
                   between("HB3.8/PLMS4", err["hb3.8"] / err["plms4"], low=1.3, fmt=".2f"),
                   between("HB3.9/PLMS4", err["hb3.9"] / err["plms4"], low=1.0, fmt=".2f"),
                   between("HB3.8/HB3.9", err["hb3.8"] / err["hb3.9"], low=1.0, fmt=".2f"),
                   between("DDIM/HB3.8", err["ddim"] / err["hb3.8"], low=1.0, fmt=".2f"))


def _rises(values) -> int:
    """How many neighbours in ``values`` fail to increase (0 = strictly increasing)."""
    return sum(b <= a for a, b in zip(values[:-1], values[1:]))


@register("diffusion.ghvb_beta_sweep", paper=PAPER, source="§5.1 Table 6 (GHVB 2.1-2.9), App. L Table 7",
          statement="GHVB 3.beta, beta = 0.1..1: divergence at N=10 never falls as beta grows, error at N=30 "
                    "falls strictly; GHVB3.1 diverges < 10% of PLMS4 but costs > 15% accuracy")
def _ghvb_beta_sweep() -> Result:
    sweep = sweeps.ghvb_beta_sweep()
    counts = [sweep.diverged_count(b, 10) for b in sweep.betas]
    errors = [-sweep.error[b][30] for b in sweep.betas]
    return combine(count_between("divergence drops as beta grows", sum(b < a for a, b in zip(counts, counts[1:])),
                                 len(counts) - 1, high=0),
                   count_between("error rises as beta grows", _rises(errors), len(errors) - 1, high=0),
                   between("div GHVB3.1/PLMS4", counts[0] / max(counts[-1], 1), high=0.1, fmt=".2f"),
                   between("err GHVB3.1/PLMS4", errors[0] / errors[-1], low=1.15, fmt=".2f"))


@register("diffusion.hb_beta_sweep", paper=PAPER, source="§5.4, Fig. 29 (HB accuracy against beta)",
          statement="HB 3.beta, beta = 1, 0.9, 0.8, 0.6, 0.4: median error grows as beta decreases at every "
                    "N = 15..120; HB0.4 is worse than DDIM at N >= 30")
def _hb_beta_sweep() -> Result:
    sweep = sweeps.hb_beta_sweep()
    bad = sum(_rises([sweep.error[b][n] for b in sweep.betas]) for n in sweep.steps)
    pairs = len(sweep.steps) * (len(sweep.betas) - 1)
    worse = min(sweep.error[0.4][n] / sweep.ddim_error[n] for n in sweep.steps if n >= 30)
    return combine(count_between("(N, beta) pairs out of order", bad, pairs, high=0),
                   between("min over N >= 30 of err HB3.4/DDIM", worse, low=1.0, fmt=".2f"))


@register("diffusion.hb_ddim_crossover", paper=PAPER, source="§5.4, Fig. 29", reproduced=False,
          statement="HB is worse than DDIM when beta < 0.7")
def _hb_ddim_crossover() -> Result:
    sweep = sweeps.hb_beta_sweep()
    better = max(sweep.error[0.6][n] / sweep.ddim_error[n] for n in sweep.steps)
    return combine(between("ours: max over N of err HB3.6/DDIM (crossover below beta = 0.6)", better, low=0.8,
                           high=1.0, fmt=".2f"))


@register("diffusion.dpm_hb", paper=PAPER, source="§5.1 Table 5, §5.2 Table 1 (DPM-Solver++ with HB)",
          statement="GMM d=64, w = 15/25/40, N = 4..10: DPM-Solver++ diverges at low N and strong w; "
                    "HB 0.8 diverges less in every cell and < 30% as often overall; HB 0.6 almost never")
def _dpm_hb() -> Result:
    grid = sweeps.dpm_grid()
    total = grid.batch
    cells = [(w, n) for w in grid.guidances for n in grid.steps]
    worst = max(grid.count("dpm++", w, n) for w, n in cells)
    more = sum(grid.count("dpm++hb0.8", w, n) > grid.count("dpm++", w, n) for w, n in cells)
    return combine(count_between("DPM++ worst cell", worst, total, low=math.ceil(0.5 * total)),
                   count_between("cells where HB0.8 diverges more", more, len(cells), high=0),
                   between("HB0.8/DPM++ overall", grid.total("dpm++hb0.8") / max(grid.total("dpm++"), 1),
                           high=0.3, show_value=False),
                   count_between("HB0.6 all cells", grid.total("dpm++hb0.6"), total, high=math.floor(0.05 * total)),
                   count_between("DPM++ at w=15, N>=8", grid.count("dpm++", 15.0, 8) + grid.count("dpm++", 15.0, 10),
                                 total, high=0))


@register("diffusion.orders", paper=PAPER, source="App. F, Theorems 1-2 (Table 8's orders below r: consistent "
          "with the warm-up)",
          statement="HB is 1st order; GHVB-r has order r for r = 1, 2 (measured); with the warm-up AB3/AB4 and "
                    "GHVB2.5/3.5 measure 2; exact starts give AB3/AB4 orders 3/4")
def _orders() -> Result:
    table = experiments.order_table()
    return combine(close("max |observed - expected order|", table.worst_deviation, 0.0, 0.1, fmt=".2f"))


@register("diffusion.momentum_trace", paper=PAPER, source="Eqs. 14-19, Alg. 1-2 (official code: v_1 = e_0)",
          statement="3 steps of HB2.7 and GHVB2.7 equal a hand-derived trace (v_1 = e_0, HB averages after AB, "
                    "GHVB before it and divides by beta) and differ from the swapped variants")
def _momentum_trace() -> Result:
    check = trace.trace_check(0.7)
    return combine(close("HB rel. diff", check.hb, 0.0, 1e-12, show_value=False),
                   close("GHVB rel. diff", check.ghvb, 0.0, 1e-12, show_value=False),
                   between("HB vs average-first", check.hb_vs_wrong, low=1e-3, show_value=False),
                   between("GHVB vs times-beta", check.ghvb_vs_wrong, low=1e-3, show_value=False))


@register("diffusion.ring_picture", paper=PAPER, source="Fig. 1 (divergence artifacts)",
          statement="2-D ring of 8 classes, w=15, N=8: PLMS4 flings samples off the ring; HB3.8 smears them "
                    "(wrong clusters); HB3.6 and DDIM land on the right cluster")
def _ring_picture() -> Result:
    ring = experiments.ring_experiment()
    n, total = {m: ring.diverged_count(m, 8) for m in ring.methods}, ring.batch
    right = {m: a[8] for m, a in ring.assigned.items()}
    err = {m: e[8] for m, e in ring.error.items()}
    return combine(count_between("PLMS4", n["plms4"], total, low=math.ceil(0.3 * total)),
                   count_between("HB3.6", n["hb3.6"], total, high=math.floor(0.01 * total)),
                   count_between("DDIM", n["ddim"], total, high=math.floor(0.01 * total)),
                   between("right cluster HB3.6, DDIM", min(right["hb3.6"], right["ddim"]), low=0.99, fmt=".2f"),
                   between("right cluster HB3.8", right["hb3.8"], high=0.8, fmt=".2f"),
                   between("right cluster PLMS4", right["plms4"], high=0.6, fmt=".2f"),
                   between("err HB3.8/DDIM", err["hb3.8"] / err["ddim"], low=2.0, fmt=".2f"),
                   between("err DDIM, HB3.6", max(err["ddim"], err["hb3.6"]), high=0.25, fmt=".2f"))


if crosscheck.diffusers_available():
    @register("diffusion.diffusers_match", paper="diffusers (Apache-2.0)",
              source="DDIMScheduler, PNDMScheduler, DPMSolverMultistepScheduler",
              statement="diffusers' DDIM, PNDM(skip_prk) and DPM-Solver++(2M) loops on our analytic eps equal ours")
    def _diffusers_match() -> Result:
        diffs = experiments.diffusers_differences().differences
        return combine(*(close(f"{name} max |diff|", value, 0.0, 1e-5, show_value=False)
                         for name, value in diffs.items()))


from steplab.diffusion import digits_claims  # noqa: E402, F401  (registers the digits-denoiser claims after these)
