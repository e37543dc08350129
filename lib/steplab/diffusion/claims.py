"""The paper's checkable claims (brief §4.1, claims 1–6, plus the 2-D picture and the diffusers match).

Paper: Wizadwongsa, Chinchuthakun, Khungurn, Raj, Suwajanakorn, "Diffusion Sampling with Momentum for
Mitigating Divergence Artifacts", ICLR 2024 (arXiv 2307.11118).
"""

from __future__ import annotations

from steplab.claims import Result, register, within
from steplab.device import cpu_threads
from steplab.diffusion import crosscheck, experiments, gmm, orders, samplers, stability

PAPER = "Wizadwongsa et al. 2024 (ICLR)"


STABILITY_ROWS = tuple(f"{family}{k - 1}{suffix}" if suffix else f"{family}{k}"
                       for family in ("hb", "ghvb") for k in (1, 2, 3, 4) for suffix in ("", ".9", ".8", ".5"))
TOY_STABLE = ("ddim", "hb1.9", "hb1.8", "ghvb1.8", "ghvb1.9")
ORDER_EXPECTED = {"plms1": 1, "hb3.8": 1, "hb1.5": 1, "ghvb0.5": 1, "ghvb1.5": 2, "plms2": 2, "plms4": 2,
                  "ghvb2.5": 2, "ghvb3.5": 2}
EXACT_START_EXPECTED = {"plms3": 3, "plms4": 4}


def stability_table() -> list[tuple[str, float, float]]:
    """(method, closed-form left end, root-finding left end) for the 28 rows×β of the brief's §2 table."""
    return [(m, stability.real_interval_closed_form(m), stability.real_interval_by_roots(m)) for m in STABILITY_ROWS]


@register("diffusion.stability_intervals", paper=PAPER, source="Eqs. 31-47, App. A; brief §2 table",
          statement="Real stability intervals (s(pi), 0) of AB-k+HB and GHVB-k: closed form = root-finding")
def _stability_intervals() -> Result:
    worst = max(abs(c - r) / abs(c) for _, c, r in stability_table())
    return Result("28 entries, rel. err < 1e-6", f"max rel. err {within(worst, 1e-6)}", worst < 1e-6)


@register("diffusion.test_equation", paper=PAPER, source="§2.3, Eq. 10 (test equation u' = lambda u)",
          statement="Our samplers on u' = lambda u grow at 1.02x and decay at 0.98x the stability boundary")
def _test_equation() -> Result:
    with cpu_threads(1):
        checks = [stability.growth_check(m) for m in STABILITY_ROWS]
    ok = all(up > 1.0 and down < 1.0 for _, up, down in checks)
    low_up, high_down = min(up for _, up, _ in checks), max(down for _, _, down in checks)
    return Result("rate > 1 outside, < 1 inside (28 rows)", f"min rate out {low_up:.4f}, max rate in {high_down:.4f}",
                  ok)


@register("diffusion.toy_ode", paper=PAPER, source="App. C, Fig. 13",
          statement="x'=[[0,1],[-9,-10]]x, 26 steps: AB2 blows up (|x(3)|>1); Euler, HB 0.8/0.9, GHVB 1.8/1.9 < 0.1")
def _toy_ode() -> Result:
    norms = stability.toy_norms(("plms2",) + TOY_STABLE)
    ok = norms["plms2"] > 1.0 and all(norms[m] < 0.1 for m in TOY_STABLE)
    measured = ", ".join(f"{m} {norms[m]:.3g}" for m in ("exact", "plms2") + TOY_STABLE)
    return Result("AB2 > 1; others < 0.1", measured, ok)


@register("diffusion.gmm_divergence", paper=PAPER, source="§5.1-5.3 (artifacts); brief §4.1 claim 3",
          statement="GMM d=64, w=15, N=10: PLMS4 diverges often; HB3.8, GHVB3.5 rarely; DDIM, DPM++ never")
def _gmm_divergence() -> Result:
    div = {m: d[10] for m, d in experiments.gmm_sweep().divergence.items()}
    ok = (div["plms4"] >= 0.5 and div["hb3.8"] <= 0.15 and div["hb3.8"] <= 0.25 * div["plms4"]
          and div["ghvb3.5"] <= 0.3 and div["ghvb3.8"] < div["plms4"] and div["ddim"] <= 0.01
          and div["dpm++"] <= 0.01 and div["hb3.9"] >= div["hb3.8"])
    shown = ("plms4", "hb3.9", "hb3.8", "ghvb3.8", "ghvb3.5", "ddim", "dpm++")
    measured = ", ".join(f"{m} {div[m]:.3f}" for m in shown)
    return Result("PLMS4>=.5, HB3.8<=.15, GHVB3.5<=.3, DDIM/DPM++<=.01", measured, ok)


@register("diffusion.gmm_accuracy", paper=PAPER, source="§5.4, Fig. 29; brief §4.1 claim 4",
          statement="GMM N=30 median error: GHVB3.8 keeps PLMS4's accuracy, HB3.8 loses it (HB < DDIM still)")
def _gmm_accuracy() -> Result:
    err = {m: e[30] for m, e in experiments.gmm_sweep().error.items()}
    ok = (err["ghvb3.8"] <= 1.15 * err["plms4"] and err["hb3.8"] >= 1.3 * err["plms4"]
          and err["plms4"] < err["hb3.9"] < err["hb3.8"] < err["ddim"])
    measured = ", ".join(f"{m} {err[m]:.3f}" for m in ("plms4", "ghvb3.8", "hb3.9", "hb3.8", "ddim"))
    return Result("GHVB3.8<=1.15 PLMS4; HB3.8>=1.3 PLMS4; PLMS4<HB3.9<HB3.8<DDIM", measured, ok)


def order_table() -> dict[str, float]:
    """Observed orders (N = 640 -> 1280; exact starts at N = 40..320) on x' = -x^2 + cos s."""
    with cpu_threads(1):
        table = {m: orders.observed_order(m) for m in ORDER_EXPECTED}
        for m in EXACT_START_EXPECTED:
            table[m + " exact start"] = orders.observed_order(m, (40, 80, 160, 320), exact_start=True)
    return table


@register("diffusion.orders", paper=PAPER, source="App. F, Theorems 1-2; brief §2 caveat 1",
          statement="HB is 1st order, GHVB-r order r; warm-up caps AB3/AB4 at 2, exact starts give 3/4")
def _orders() -> Result:
    table = order_table()
    expected = ORDER_EXPECTED | {m + " exact start": p for m, p in EXACT_START_EXPECTED.items()}
    worst = max(abs(table[m] - p) for m, p in expected.items())
    measured = ", ".join(f"{m} {v:.2f}" for m, v in table.items())
    return Result("orders within 0.1 of " + "/".join(str(p) for p in expected.values()), measured, worst <= 0.1)


def beta_one_differences() -> dict[str, float]:
    """Max relative difference of the β = 1 momentum methods from their base methods on the guided GMM."""
    model, x_T, labels = experiments.gmm_problem(batch=64)
    out = {}
    for k in (1, 2, 3, 4):
        base = samplers.sample(model, f"plms{k}", 10, 15.0, x_T, labels)
        for name in (f"ghvb{k}.0", f"hb{k}", f"nt{k}"):
            other = samplers.sample(model, name, 10, 15.0, x_T, labels)
            out[f"{name} vs plms{k}"] = float(((other - base).abs() / base.abs().clamp_min(1e-300)).max())
    base = samplers.sample(model, "dpm++", 10, 15.0, x_T, labels)
    other = samplers.sample(model, "dpm++hb1", 10, 15.0, x_T, labels)
    out["dpm++hb1 vs dpm++"] = float(((other - base).abs() / base.abs()).max())
    return out


@register("diffusion.beta_one", paper=PAPER, source="§4.1-4.2 (beta = 1 recovers the base method)",
          statement="GHVB k.0 = HB k.0 = NT k.0 = PLMS-k and DPM++HB(1) = DPM++ on the guided GMM")
def _beta_one() -> Result:
    worst = max(beta_one_differences().values())
    return Result("rel. difference <= 1e-12", f"max rel. difference {within(worst, 1e-12)}", worst <= 1e-12)


@register("diffusion.ring_picture", paper=PAPER, source="Fig. 1 (divergence artifacts); brief §4.1 optional visual",
          statement="2-D ring of 8 classes, w=15, N=8: PLMS4 flings samples off the ring; HB3.6 and DDIM do not")
def _ring_picture() -> Result:
    div = {m: d[8] for m, d in experiments.ring_experiment().divergence.items()}
    ok = div["plms4"] >= 0.3 and div["hb3.8"] < div["plms4"] and div["hb3.6"] <= 0.01 and div["ddim"] <= 0.01
    measured = ", ".join(f"{m} {v:.3f}" for m, v in div.items())
    return Result("PLMS4>=.3 > HB3.8; HB3.6, DDIM <= .01", measured, ok)


def diffusers_differences(steps: int = 12, dim: int = 16, batch: int = 64, guidance: float = 2.0) -> dict[str, float]:
    """Max |ours − diffusers| for DDIM, PNDM(PLMS4, Heun start) and DPM-Solver++(2M) on the same analytic ε."""
    model = gmm.random_gmm(dim=dim, seed=0)
    eps = model.eps_fn(gmm.balanced_labels(batch, model.classes), guidance)
    x_T = gmm.noise(batch, dim, seed=3)
    out = {}
    with cpu_threads(1):
        for method, name in crosscheck.SCHEDULERS.items():
            ours, theirs = crosscheck.compare(method, eps, x_T, steps)
            out[name] = float((ours - theirs).abs().max())
    return out


if crosscheck.diffusers_available():
    @register("diffusion.diffusers_match", paper="diffusers (Apache-2.0); brief §4.3",
              source="DDIMScheduler, PNDMScheduler, DPMSolverMultistepScheduler",
              statement="diffusers' DDIM, PNDM(skip_prk) and DPM-Solver++(2M) loops on our analytic eps equal ours")
    def _diffusers_match() -> Result:
        diffs = diffusers_differences()
        return Result("max |diff| <= 1e-5", ", ".join(f"{k} {within(v, 1e-5)}" for k, v in diffs.items()),
                      max(diffs.values()) <= 1e-5)


__all__ = ["beta_one_differences", "diffusers_differences", "order_table", "stability_table"]
