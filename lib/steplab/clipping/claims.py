"""Registered claims of the clipping family (``python -m steplab.verify clipping``).

Papers: Koloskova, Hendrikx, Stich, "Revisiting Gradient Clipping" (ICML 2023, "KHS");
Schaipp, Garrigos, Simsekli, Gower, "SGD with Clipping is Secretly Estimating the Median Gradient"
(2024, "SGSG").  Experiment numbers E1-E6 refer to the clipping research brief; the formulas are
derived there (Sec. 2.3) and in these papers' abstracts; theorem numbers are not verified against the PDFs.
"""

from __future__ import annotations

import torch

from steplab.claims import Result, register
from steplab.clipping import experiments as ex

KHS = "Koloskova, Hendrikx, Stich 2023 (ICML)"
SGSG = "Schaipp, Garrigos, Simsekli, Gower 2024"


def close(measured: torch.Tensor, predicted: torch.Tensor, relative: float = 0.05, absolute: float = 0.003) -> bool:
    """Every |measured - predicted| <= max(relative * predicted, absolute) (brief Sec. 5 tolerance)."""
    error = (measured - predicted).abs()
    return bool((error <= torch.clamp(relative * predicted.abs(), min=absolute)).all())


def _fmt(values, digits: int = 4) -> str:
    return ", ".join(f"{float(v):.{digits}f}" for v in values)


@register("clipping.deterministic_offset", paper=KHS, source="Thm 2.3 (abstract claim 1); brief E1",
          statement="Clipped GD on a quadratic: T(c,1e-8) - T(c,1e-2) = 20 for every c; T matches closed form")
def _deterministic_offset() -> Result:
    r = ex.e1_offset()
    formula_ok = bool(((r["measured"] - r["formula"]).abs() <= 1).all())
    tail_ok = bool(((r["tail"] - 20).abs() <= 1).all())
    measured = f"T(1e-2) = {r['measured'][:, 0].tolist()}, tails {sorted(set(r['tail'].tolist()))}"
    return Result("tail 20 for c = 0.5..inf; T = formula ±1", measured, formula_ok and tail_ok)


@register("clipping.cosh_l0l1", paper=KHS, source="(L0,L1)-smoothness, Sec. 3; brief E2",
          statement="cosh x - 1 from x0=10: GD eta=0.5 diverges, clipped GD (c=1) converges in <=50 steps")
def _cosh() -> Result:
    r = ex.e2_cosh()
    iterations, diverged = r["iterations"], r["diverged_at"]
    clipped_c1 = int(iterations[1, 1])  # c = 1, tolerance 1e-6
    tails = r["tail"][:3]
    ok = 0 <= clipped_c1 <= 50 and int(diverged[3]) >= 0 and bool(((tails - 20).abs() <= 1).all())
    ok = ok and bool((diverged[:3] < 0).all())
    measured = f"c=1: {clipped_c1} its; plain eta=0.5 diverged at step {int(diverged[3])}; tails {tails.tolist()}"
    return Result("c=1 <= 50 its, plain diverges, tail 20 ±1", measured, ok)


@register("clipping.cosh_safe_step", paper=KHS, source="(L0,L1) vs L-smooth step sizes; brief E2",
          statement="cosh x - 1 from x0=10: plain GD with the stable step 2/cosh(10) needs ~80k its (clipped c=1: 38)")
def _cosh_safe_step() -> Result:
    r = ex.e2_safe_step()
    clipped = int(ex.e2_cosh()["iterations"][1, 1])
    return Result("79881 its (±1)", f"{r['iterations']} its vs clipped {clipped}", abs(r["iterations"] - 79881) <= 1)


@register("clipping.estimator_bias", paper=KHS, source="Sec. 4 (stochastic bias); brief Sec. 2.3",
          statement="Two-point noise (sigma=1, p=0.1), c=1: E clip(g) at x* is exactly -0.2, not 0")
def _estimator_bias() -> Result:
    h0 = float(ex.theory.two_point_estimator_bias(1.0, 1.0, 0.1))
    return Result("-0.2", f"{h0:.6f}", abs(h0 + 0.2) < 1e-12)


@register("clipping.two_point_floor", paper=KHS, source="Lower bound Omega(min(sigma, sigma^2/c)); brief E3",
          statement="Clipped SGD stalls at grad f = (3 - c)_+/9 for two-point noise (sigma=1, p=0.1)")
def _two_point_floor() -> Result:
    r = ex.e3_threshold_sweep()
    return Result(_fmt(r["theory"]), _fmt(r["measured"]), close(r["measured"], r["theory"]))


@register("clipping.worst_case", paper=KHS, source="tightness of min(sigma, sigma^2/c); brief E3",
          statement="Worst two-point law (A=2c): bias = sigma^2/(4c) <= (c - sqrt(c^2-sigma^2))/2")
def _worst_case() -> Result:
    r = ex.e3_worst_case()
    scaled = r["measured"] * r["clip_threshold"]
    ok = bool(((scaled >= 0.2375) & (scaled <= 0.2625)).all()) and close(r["measured"], r["theory"])
    ok = ok and bool((r["measured"] <= r["upper_bound"] + 0.003).all())
    return Result(f"c*bias = 0.25 ({_fmt(r['theory'])})", f"c*bias = {_fmt(scaled, 3)}", ok)


@register("clipping.step_size_independent", paper=KHS, source="abstract claim 2; brief E3",
          statement="c=1: bias 0.2222 for eta = 0.1, 0.01, 0.002 (no vanishing as eta->0); unclipped |bias|<=0.003")
def _step_sizes() -> Result:
    r = ex.e3_step_sizes()
    ok = close(r["measured"][:3], r["theory"][:3]) and float(r["measured"][3]) <= 0.003
    return Result("0.2222 x3, unclipped 0", f"{_fmt(r['measured'][:3])}, unclipped {float(r['measured'][3]):.4f}", ok)


@register("clipping.batch_size", paper=KHS, source="per-sample vs batch clipping; brief E3",
          statement="c=1, b=1..16: per-sample clipping bias stays 0.2222; batch clipping follows the binomial root")
def _batch_size() -> Result:
    r = ex.e3_batch()
    ok = close(r["per_sample"], r["per_sample_theory"]) and close(r["batch"], r["batch_theory"])
    measured = f"per-sample {_fmt(r['per_sample'], 3)}; batch {_fmt(r['batch'], 4)}"
    return Result(f"per-sample 0.222; batch {_fmt(r['batch_theory'], 4)}", measured, ok)


@register("clipping.exp_median", paper=SGSG, source="clipping ~ median estimation; brief E4",
          statement="Exp(1)-1 noise: bias = 1 - m(c), from 0 (mean, c large) to 1 - ln 2 (median, c -> 0)")
def _exp_median() -> Result:
    r = ex.e4_exp()
    ok = bool(((r["measured"] - r["theory"]).abs() <= 0.003).all())
    return Result(_fmt(r["theory"]), _fmt(r["measured"]), ok)


@register("clipping.cauchy", paper=SGSG, source="heavy-tailed noise; brief E5",
          statement="Cauchy noise: clipped SGD (c=1) settles near x* (|tail avg| < 0.05), plain SGD wanders (> 50)")
def _cauchy() -> Result:
    r = ex.e5_cauchy()
    settled = float(r["mean_abs_tail_average"][0])
    wandered = float(r["max_abs_iterate"][1])
    return Result("clipped < 0.05; plain max|x| > 50", f"clipped {settled:.3f}; plain max|x| {wandered:.3g}",
                  settled < 0.05 and wandered > 50)


@register("clipping.sgsg_median", paper=SGSG, source="SPP for the geometric median; brief E6",
          statement="SPP tracker m += clip_tau(g - m) reaches the geometric median; the running mean the mean")
def _sgsg() -> Result:
    r = ex.e6_sgsg()
    per_chain = float(r["median_error"].mean())
    ok = per_chain < 0.1 and float(r["median_error"].max()) < 0.25 and float(r["averaged_median_error"]) < 0.03
    ok = ok and float(r["mean_error"].mean()) < 0.1 and float(r["mean_to_median"].min()) > 2.0
    measured = f"median error {per_chain:.3f}/chain; mean-to-median {float(r['mean_to_median'].mean()):.2f}"
    return Result("median error < 0.1", measured, ok)
