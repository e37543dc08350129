"""Claims on the trained digits denoiser (Wizadwongsa et al. 2024, Fig. 1 redone on 8×8 digits).

All thresholds are bands around our regression values (the paper runs Stable Diffusion, ADM and DiT, not an
8×8 digits model): w = 3, 200 samples (20 per digit) from noise seed 0, metrics of
:mod:`steplab.diffusion.digits_experiments`. The out-of-range fractions are compared with the *converged* one
(DDIM at N = 100), because strong guidance itself pushes some pixel values out of the data range: an artifact is
what a sampler adds on top of that floor. Imported by :mod:`steplab.diffusion.claims` (family "diffusion").
"""

from __future__ import annotations

from steplab.claims import Result, between, combine, count_between, register
from steplab.diffusion import digits_experiments as de

PAPER = "Wizadwongsa et al. 2024 (ICLR)"


def _count(fraction: float, total: int) -> int:
    return round(fraction * total)


@register("diffusion.digits_model", paper=PAPER, source="§5 (sampling a trained class-conditional model); "
          "our digits network",
          statement="The trained digits denoiser works: DDIM at N = 50, w = 1 gives digits that a logistic regression "
                    "on the same data labels as requested in >= 90% of 200 samples")
def _digits_model() -> Result:
    run = de.model_check()
    total = len(run.labels)
    return combine(count_between("recognised", _count(run.accuracy, total), total, low=round(0.9 * total)),
                   between("out-of-range", run.out_of_range, high=0.05, fmt=".2f", show_value=False))


@register("diffusion.digits_artifacts", paper=PAPER, source="Fig. 1 (divergence artifacts at few steps, high guidance)",
          statement="Digits, w = 3, N = 8: PLMS4 leaves > 3x the converged out-of-range pixel fraction and < 30% "
                    "recognised; HB3.8 and GHVB3.5 cut PLMS4's out-of-range fraction by more than half, "
                    ">= 70% recognised")
def _digits_artifacts() -> Result:
    grid = de.digits_grid()
    total, floor = grid.batch, grid.reference_out_of_range

    def out(m):
        return grid.value("out_of_range", m, 8)

    def recognised(m):
        return _count(grid.value("accuracy", m, 8), total)

    return combine(between("PLMS4 / converged", out("plms4") / floor, low=3.0, fmt=".1f", show_value=False),
                   count_between("PLMS4 recognised", recognised("plms4"), total, high=round(0.3 * total)),
                   between("HB3.8 / PLMS4", out("hb3.8") / out("plms4"), high=0.5, fmt=".1f", show_value=False),
                   count_between("HB3.8 recognised", recognised("hb3.8"), total, low=round(0.7 * total)),
                   between("GHVB3.5 / PLMS4", out("ghvb3.5") / out("plms4"), high=0.5, fmt=".1f", show_value=False),
                   count_between("GHVB3.5 recognised", recognised("ghvb3.5"), total, low=round(0.7 * total)))


@register("diffusion.digits_beta_order", paper=PAPER, source="§4.1-4.2, Figs. 4 and 6 (smaller beta, larger "
          "stability region; GHVB gains less than HB at equal beta)",
          statement="Digits, w = 3, N = 8: out-of-range fraction falls as beta falls (PLMS4 > HB3.9 > HB3.8; "
                    "PLMS4 > GHVB3.9 > GHVB3.8 > GHVB3.5), and GHVB3.8 keeps more than HB3.8")
def _digits_beta_order() -> Result:
    grid = de.digits_grid()

    def ratio(a, b):  # out-of-range fraction of a over that of b, at N = 8
        return grid.value("out_of_range", a, 8) / grid.value("out_of_range", b, 8)

    return combine(between("HB3.9 / PLMS4", ratio("hb3.9", "plms4"), high=0.9, fmt=".2f", show_value=False),
                   between("HB3.8 / HB3.9", ratio("hb3.8", "hb3.9"), high=0.9, fmt=".2f", show_value=False),
                   between("GHVB3.9 / PLMS4", ratio("ghvb3.9", "plms4"), high=0.97, fmt=".2f", show_value=False),
                   between("GHVB3.8 / GHVB3.9", ratio("ghvb3.8", "ghvb3.9"), high=0.97, fmt=".2f", show_value=False),
                   between("GHVB3.5 / GHVB3.8", ratio("ghvb3.5", "ghvb3.8"), high=0.9, fmt=".2f", show_value=False),
                   between("GHVB3.8 / HB3.8", ratio("ghvb3.8", "hb3.8"), low=1.5, fmt=".1f", show_value=False))


@register("diffusion.digits_convergence", paper=PAPER, source="Fig. 1 (artifacts are a low-step effect)",
          statement="Digits, w = 3, N = 20: DDIM, HB3.8 and GHVB3.5 are within 1.3x the converged out-of-range "
                    "fraction and >= 95% recognised; PLMS4 still leaves > 1.5x")
def _digits_convergence() -> Result:
    grid = de.digits_grid()
    total, floor = grid.batch, grid.reference_out_of_range
    checks = []
    for m, label in (("ddim", "DDIM"), ("hb3.8", "HB3.8"), ("ghvb3.5", "GHVB3.5")):
        checks += [between(f"{label} / converged", grid.value("out_of_range", m, 20) / floor, high=1.3, fmt=".1f",
                           show_value=False),
                   count_between(f"{label} recognised", _count(grid.value("accuracy", m, 20), total), total,
                                 low=round(0.95 * total))]
    checks.append(between("PLMS4 / converged", grid.value("out_of_range", "plms4", 20) / floor, low=1.5, fmt=".1f",
                          show_value=False))
    return combine(*checks)


@register("diffusion.digits_dpm", paper=PAPER, source="Tables 1 and 5 (DPM-Solver++ makes artifacts at low steps)",
          reproduced=False,
          statement="DPM-Solver++(2M) produces divergence artifacts at few steps; on digits (w = 3) it does not: "
                    "at N = 5 it stays within 2x the converged out-of-range fraction, >= 95% recognised, "
                    "fewer out-of-range pixels than DDIM")
def _digits_dpm() -> Result:
    grid = de.digits_grid()
    total, floor = grid.batch, grid.reference_out_of_range
    dpm = grid.value("out_of_range", "dpm++", 5)
    return combine(between("DPM++ / converged", dpm / floor, high=2.0, fmt=".1f", show_value=False),
                   count_between("DPM++ recognised", _count(grid.value("accuracy", "dpm++", 5), total), total,
                                 low=round(0.95 * total)),
                   between("DPM++ / DDIM", dpm / grid.value("out_of_range", "ddim", 5), high=0.7, fmt=".1f",
                           show_value=False))
