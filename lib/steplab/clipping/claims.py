"""Registered claims of the clipping family (``python -m steplab.verify clipping``).

Papers: Koloskova, Hendrikx, Stich, "Revisiting Gradient Clipping" (ICML 2023, "KHS");
Schaipp, Garrigos, Simsekli, Gower, "SGD with Clipping is Secretly Estimating the Median Gradient"
(2024, "SGSG"). Each claim runs one experiment of ``steplab.clipping.experiments`` (E1-E6); the closed
forms it is checked against are derived in ``steplab.clipping.theory``. "Abstract claim k" is the k-th
headline claim of the KHS abstract; KHS Thm 2.3 is its convex deterministic bound (as restated by
Takezawa et al., Thm 2); section numbers were not checked against the PDFs. Simulated biases must agree
with the theory within 5% or 0.003, whichever is larger (our tolerance for 256 chains x 10,000 averaged
steps); iteration counts of runs (38, 79,881) are our regression values.
"""

from __future__ import annotations

import math

import torch

from steplab.claims import Check, Result, between, close, combine, count_between, register
from steplab.clipping import experiments as ex

KHS = "Koloskova, Hendrikx, Stich 2023 (ICML)"
SGSG = "Schaipp, Garrigos, Simsekli, Gower 2024"
RELATIVE, ABSOLUTE = 0.05, 0.003  # simulation vs theory: |error| <= max(5% of the prediction, 0.003)


def _fmt(values, digits: int = 4) -> str:
    return ", ".join(f"{float(v):.{digits}f}" for v in values)


def _agree(label: str, measured: torch.Tensor, predicted: torch.Tensor, relative: float = RELATIVE,
           absolute: float = ABSOLUTE, digits: int = 4) -> Check:
    """Every |measured - predicted| <= max(relative |predicted|, absolute), printed as both lists of values."""
    error = (measured - predicted).abs()
    passed = bool((error <= torch.clamp(relative * predicted.abs(), min=absolute)).all())
    band = " or ".join(([f"{relative:.0%}"] if relative else []) + ([f"{absolute:g}"] if absolute else []))
    return Check(f"{label} {_fmt(predicted, digits)} (± {band})", f"{label} {_fmt(measured, digits)}", passed)


def _at_most(label: str, value: float, limit: float, fmt: str = ".4f") -> Check:
    """value <= limit (inclusive, unlike :func:`steplab.claims.between`); both texts from the same numbers."""
    return Check(f"{label} <= {limit:{fmt}}", f"{label} = {value:{fmt}}", bool(value <= limit))


@register("clipping.deterministic_offset", paper=KHS, source="Thm 2.3 (abstract claim 1); E1",
          statement="Clipped GD on a quadratic: T(c,1e-8) - T(c,1e-2) = 20 for every c; T matches closed form")
def _deterministic_offset() -> Result:
    r = ex.e1_offset()
    worst_tail = r.tail[(r.tail - 20).abs().argmax()]
    return combine(close("max |T_run - T_formula|", int((r.measured - r.formula).abs().max()), 0, 1, fmt="d"),
                   close("T(1e-8) - T(1e-2), worst c", int(worst_tail), 20, 1, fmt="d"))


@register("clipping.cosh_l0l1", paper=KHS, source="(L0,L1)-smoothness, Sec. 3; E2",
          statement="cosh x - 1 from x0=10: GD eta=0.5 diverges, clipped GD (c=1) converges in <=50 steps")
def _cosh() -> Result:
    r = ex.e2_cosh()
    clipped_c1 = int(r.iterations[1, 1])  # c = 1, tolerance 1e-6 (-1: never reached)
    tails = r.tail[:3]
    worst_tail = tails[(tails - 20).abs().argmax()]
    return combine(_at_most("c=1 its to 1e-6", clipped_c1 if clipped_c1 >= 0 else math.inf, 50, fmt="g"),
                   count_between("plain eta=0.5 diverged", int(r.diverged_at[3] >= 0), 1, low=1),
                   count_between("clipped diverged", int((r.diverged_at[:3] >= 0).sum()), 3, high=0),
                   close("clipped tail, worst c", int(worst_tail), 20, 1, fmt="d"))


@register("clipping.cosh_safe_step", paper=KHS, source="(L0,L1) vs L-smooth step sizes; E2",
          statement="cosh x - 1 from x0=10: plain GD with the stable step 2/cosh(10) needs ~80k its (clipped c=1: 38)")
def _cosh_safe_step() -> Result:
    return combine(close("its", ex.e2_safe_step().iterations, 79881, 1, fmt="d"))


@register("clipping.estimator_bias", paper=KHS, source="Sec. 4 (stochastic bias); derived in theory",
          statement="Two-point noise (sigma=1, p=0.1), c=1: E clip(g) at x* is exactly -0.2, not 0")
def _estimator_bias() -> Result:
    h0 = float(ex.e3_threshold_sweep().estimator_bias[2])  # c = 1
    return combine(close("h(0)", h0, -0.2, 1e-12, fmt=".6f"))


@register("clipping.two_point_floor", paper=KHS, source="Lower bound Omega(min(sigma, sigma^2/c)); E3",
          statement="Clipped SGD stalls at grad f = (3 - c)_+/9 for two-point noise (sigma=1, p=0.1)")
def _two_point_floor() -> Result:
    r = ex.e3_threshold_sweep()
    return combine(_agree("bias", r.measured, r.theory))


@register("clipping.worst_case", paper=KHS, source="tightness of min(sigma, sigma^2/c); E3",
          statement="Worst two-point law (A=2c): bias = sigma^2/(4c) <= (c - sqrt(c^2-sigma^2))/2")
def _worst_case() -> Result:
    r = ex.e3_worst_case()
    scaled = r.measured * r.clip_threshold
    excess = float((r.measured - r.upper_bound).max())
    return combine(_agree("c*bias", scaled, torch.full_like(scaled, 0.25), absolute=0.0, digits=3),
                   _agree("bias", r.measured, r.theory),
                   _at_most("max(bias - upper bound)", excess, ABSOLUTE))


@register("clipping.step_size_independent", paper=KHS, source="abstract claim 2; E3",
          statement="c=1: bias 0.2222 for eta = 0.1, 0.01, 0.002 (no vanishing as eta->0); unclipped |bias|<=0.003")
def _step_sizes() -> Result:
    r = ex.e3_step_sizes()
    return combine(_agree("clipped", r.measured[:3], r.theory[:3]),
                   _at_most("unclipped", float(r.measured[3]), ABSOLUTE))


@register("clipping.batch_size", paper=KHS, source="per-sample vs batch clipping; E3",
          statement="c=1, b=1..16: per-sample clipping bias stays 0.2222; batch clipping follows the binomial root")
def _batch_size() -> Result:
    r = ex.e3_batch()
    return combine(_agree("per-sample", r.per_sample, r.per_sample_theory, digits=3),
                   _agree("batch", r.batch, r.batch_theory))


@register("clipping.exp_median", paper=SGSG, source="clipping ~ median estimation; E4",
          statement="Exp(1)-1 noise: bias = 1 - m(c), from 0 (mean, c large) to 1 - ln 2 (median, c -> 0)")
def _exp_median() -> Result:
    r = ex.e4_exp()
    return combine(_agree("bias", r.measured, r.theory, relative=0.0))


@register("clipping.cauchy", paper=SGSG, source="heavy-tailed noise; E5",
          statement="Cauchy noise: clipped SGD (c=1) settles near x* (|tail avg| < 0.05), plain SGD wanders (> 50)")
def _cauchy() -> Result:
    r = ex.e5_cauchy()
    return combine(between("clipped |tail avg|", float(r.mean_abs_tail_average[0]), high=0.05, fmt=".3f"),
                   between("plain max|x|", float(r.max_abs_iterate[1]), low=50))


@register("clipping.sgsg_median", paper=SGSG, source="SPP for the geometric median; E6",
          statement="SPP tracker m += clip_tau(g - m) reaches the geometric median; the running mean the mean")
def _sgsg() -> Result:
    r = ex.e6_sgsg()
    return combine(between("median error/chain", float(r.median_error.mean()), high=0.1, fmt=".3f"),
                   between("worst chain", float(r.median_error.max()), high=0.25, fmt=".3f"),
                   between("chain-averaged", float(r.averaged_median_error), high=0.03, fmt=".3f"),
                   between("mean's error/chain", float(r.mean_error.mean()), high=0.1, fmt=".3f"),
                   between("mean to median, min", float(r.mean_to_median.min()), low=2.0, fmt=".2f"))
