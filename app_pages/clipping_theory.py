"""What the clipping page compares its chains with: the mean-field theory's bias and relaxation time per
setting (and per segment of a run whose setting changed mid-run), the theory curves over c, and the sweep that
measures the whole curve in one batched run (cached: none of it depends on the live chains)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import streamlit as st
import torch

from app_pages import charts
from app_pages.clipping_vega import RELAXATIONS
from app_pages.ui import THEORY, device
from steplab.clipping import bias_theory, khs_envelope, simulate_bias
from steplab.clipping.theory import mean_field_slope
from steplab.problems import CauchyNoise, ExpNoise, TwoPointNoise

SWEEP_MAX_STEPS = 40_000


def make_noise(v: dict):
    """The noise law ξ of the page's settings v (noise, sigma, p)."""
    if v["noise"] == "two_point":
        return TwoPointNoise(v["sigma"], v["p"])
    if v["noise"] == "exp":
        return ExpNoise(v["sigma"])
    return CauchyNoise(v["sigma"])


def relaxation_steps(noise, c, eta: float) -> torch.Tensor:
    """1/(η h′(y)) per threshold: the mean field's relaxation time at its root y (h′ = P(|y + ξ| < c))."""
    root = torch.nan_to_num(bias_theory(c, noise), nan=0.0)
    return 1.0 / (eta * mean_field_slope(c, noise, at=root))  # inf where the mean field is flat (p = 1/2)


@st.cache_data(max_entries=32, show_spinner="Measuring the bias for 12 thresholds in one batched run…")
def measured_curve(noise_name: str, sigma: float, p: float, eta: float, seed: int, batch: int = 1,
                   per_sample: bool = True) -> pd.DataFrame:
    """simulate_bias over 12 thresholds x 256 chains (float32, one tensor program), run for a burn-in of
    RELAXATIONS times the slowest threshold's relaxation time (at most SWEEP_MAX_STEPS steps in all); a
    threshold whose burn-in is shorter than that is marked "not yet stationary" and gets no bias. For batch
    clipping the per-sample slope h′ is used: an estimate (averaging b draws changes the noise's law)."""
    noise = make_noise({"noise": noise_name, "sigma": sigma, "p": p})
    c = torch.logspace(math.log10(0.05), math.log10(20.0), 12, dtype=torch.float64) * sigma
    relax = relaxation_steps(noise, c, eta)
    needed = RELAXATIONS * relax
    finite = needed[torch.isfinite(needed)]
    burn_in = max(1000, math.ceil(float(finite.max()) if finite.numel() else 1000))
    steps = min(SWEEP_MAX_STEPS, 2 * burn_in)
    result = simulate_bias(c, eta, noise, batch, per_sample, chains=256, steps=steps, burn_in=steps // 2, seed=seed,
                           dtype=torch.float32, device=device())
    stationary = (needed <= steps // 2).numpy()
    bias = np.where(stationary, result.bias.double().cpu().numpy(), np.nan)
    return pd.DataFrame({"c": c.numpy(), "bias": bias, "stderr": result.standard_error.double().cpu().numpy(),
                         "theory": bias_theory(c, noise, batch, per_sample).numpy(), "relaxation": relax.numpy(),
                         "steps": steps,
                         "stationary": stationary})


def sweep_table(sweep: pd.DataFrame) -> pd.DataFrame:
    """The sweep's readout: measured bias ± 2 standard errors beside the theory, or "not yet stationary"."""
    return pd.DataFrame({
        "c": [f"{c:.3g}" for c in sweep["c"]],
        "measured bias ± 2 s.e.": [f"{b:.4f} ± {2 * e:.4f}" if ok else "not yet stationary"
                                   for b, e, ok in zip(sweep["bias"], sweep["stderr"], sweep["stationary"])],
        "theory": [theory_text(t) for t in sweep["theory"]],
        "relaxation 1/(η h′) (steps)": [f"{r:.3g}" if math.isfinite(r) else "∞ (flat mean field)"
                                        for r in sweep["relaxation"]],
        "steps run (burn-in half)": sweep["steps"]})


@st.cache_data(max_entries=256, show_spinner=False)
def theory_at(noise_name: str, sigma: float, p: float, c: float, batch: int = 1, per_sample: bool = True) -> float:
    """The predicted bias at one threshold (mean-field root; NaN where the theory has no closed form)."""
    return float(bias_theory(c, make_noise({"noise": noise_name, "sigma": sigma, "p": p}), batch, per_sample)[0])


@st.cache_data(max_entries=64, show_spinner=False)
def theory_curves(noise_name: str, sigma: float, p: float) -> bytes:
    """Theory bias over 80 thresholds (and the KHS envelope), as Arrow bytes."""
    noise = make_noise({"noise": noise_name, "sigma": sigma, "p": p})
    grid = torch.logspace(math.log10(0.01), math.log10(100.0), 80, dtype=torch.float64, device=THEORY)
    curves = [pd.DataFrame({"c": grid.numpy(), "bias": bias_theory(grid, noise).numpy(), "curve": "mean-field theory"})]
    if noise_name != "cauchy":
        curves.append(pd.DataFrame({"c": grid.numpy(), "bias": khs_envelope(grid, sigma).numpy(),
                                    "curve": "KHS envelope min(σ, σ²/c)"}))
    return charts.arrow(pd.concat(curves, ignore_index=True))



@st.cache_data(max_entries=256, show_spinner=False)
def relaxation_at(noise_name: str, sigma: float, p: float, c: float | None, eta: float) -> float:
    """The relaxation time 1/(η h′) of one setting in steps (1/η unclipped: the mean field's slope is 1)."""
    if c is None:
        return 1 / eta
    noise = make_noise({"noise": noise_name, "sigma": sigma, "p": p})
    return float(relaxation_steps(noise, torch.tensor([c], dtype=torch.float64, device=THEORY), eta)[0])


def run_segments(live, runs: list, v: dict) -> list[list[dict]]:
    """Per run, the settings it ran with, in order: [{from, to, c, relax, theory}]; the clipped and unclipped
    runs of the current setting follow its mid-run changes (``live.notes["settings"]``), the pins never change."""
    timeline = live.notes.get("settings", [(0, v["c"], v["eta"])])
    noise, out = (v["noise"], v["sigma"], v["p"]), []
    for r, (c, eta) in enumerate(runs):
        own = [(f, c_now if r == 0 else None, eta_now) for f, c_now, eta_now in timeline] if r < 2 else [(0, c, eta)]
        ends = [f for f, _, _ in own[1:]] + [live.t + 1]
        out.append([{"from": f, "to": end, "c": c_r, "relax": relaxation_at(*noise, c_r, eta_r),
                     "theory": math.nan if c_r is None else theory_at(*noise, c_r, v["batch"],
                                                                      v["mode"] == "per_sample")}
                    for (f, c_r, eta_r), end in zip(own, ends, strict=True)])
    return out


def theory_text(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.4f}"

