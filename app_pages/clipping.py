"""Clipping bias: many chains of clipped SGD on f(x) = x²/2 with asymmetric noise settle where the mean
clipped gradient vanishes, not at the minimum: a stationary gradient that no step size removes, as the
mean-field theory predicts (Koloskova, Hendrikx & Stich 2023). Symmetric noise (even heavy-tailed Cauchy
noise) has no bias; what matters is asymmetry."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import streamlit as st
import torch

from app_pages import charts, ensemble, keys, specs
from app_pages.controls import Control, Controls
from app_pages.live import Live, start_of
from app_pages.pins import Pins, step_clip_pins
from app_pages.player import playback
from app_pages.ui import THEORY, device, fmt, measure, page_clock, reproduce_expander
from steplab.clipping import bias_theory, khs_envelope, measured_bias, simulate_bias
from steplab.clipping.theory import mean_field_slope
from steplab.device import make_generator
from steplab.problems import CauchyNoise, CommonNoise, ExpNoise, Noisy, Quadratic, TwoPointNoise
from steplab.trajectory import Trajectory, run
from steplab.transforms import chain, clip_per_sample, optimizer, scale

PAGE = "clipping"
NOISES = {"two_point": "two-point (rare big outlier)", "exp": "Exp(1) − 1 (skewed)", "cauchy": "Cauchy (no mean)"}
CONTROLS = [
    Control("noise", "Gradient noise ξ", "select", "two_point", options=tuple(NOISES), labels=NOISES),
    Control("sigma", "noise scale σ", "log", 1.0, low=0.1, high=10.0),
    Control("p", "two-point outlier probability p", "float", 0.1, low=0.01, high=0.5, step=0.01),
    Control("c", "clip threshold c", "log", 1.0, low=0.01, high=100.0),
    Control("eta", "step size η", "log", 0.03, low=0.001, high=0.5),
    Control("batch", "batch size b", "int", 1, low=1, high=16, step=1),
    Control("mode", "clipping of a batch", "select", "per_sample", options=("per_sample", "batch"),
            labels={"per_sample": "per-sample: (1/b) Σ clip(gᵢ)", "batch": "batch: clip((1/b) Σ gᵢ)"}),
    ensemble.control(PAGE),  # "chains": its range and default follow the device (app_pages.ensemble.SIZES)
    Control("steps", "steps", "int", 500, low=100, high=4000, step=100),  # 500: past 6 relaxations at the defaults
    Control("seed", "seed", "int", 0, low=0, high=99),
]
SPECS = {spec.name: spec for spec in CONTROLS}
RELAXATIONS = 6  # a burn-in of 6 relaxation times 1/(η h′) leaves e⁻⁶ ≈ 0.25% of the start's offset
SWEEP_MAX_STEPS = 40_000
CHUNK_ELEMENTS = 2**25  # steps x chains recorded by one run() call of the live view (~256 MB per float64 array)


parse_pin, format_pin = step_clip_pins(SPECS, held_as=("c", "eta"))  # links write eta:c


def run_labels(runs: list[tuple[float | None, float]]) -> list[str]:
    """'1 · clipped …', '2 · unclipped …', '3 · pin 1: …' (numbered, so the colours follow the run order)."""
    names = ["clipped:", "unclipped:"] + [f"pin {i}:" for i in range(1, len(runs) - 1)]
    return [f"{r + 1} · {name} c = {'∞' if c is None else f'{c:g}'}, η = {eta:g}"
            for r, (name, (c, eta)) in enumerate(zip(names, runs, strict=True))]


def make_noise(v: dict):
    if v["noise"] == "two_point":
        return TwoPointNoise(v["sigma"], v["p"])
    if v["noise"] == "exp":
        return ExpNoise(v["sigma"])
    return CauchyNoise(v["sigma"])


def noise_code(v: dict) -> str:
    if v["noise"] == "two_point":
        return f"TwoPointNoise(sigma={v['sigma']:g}, p={v['p']:g})"
    return f"{'ExpNoise' if v['noise'] == 'exp' else 'CauchyNoise'}({v['sigma']:g})"


def per_setting(traj: Trajectory, settings: int) -> Trajectory:
    """The chains' trajectory summarised per setting: each setting's mean over its chains of x_t (the rows of
    ``iterates``), f(x_t) and the gradient norms, and the first step any of its chains diverged."""
    steps = traj.iterates.shape[0]

    def mean(values: torch.Tensor) -> torch.Tensor:
        return values.reshape(values.shape[0], settings, -1).mean(-1)

    diverged = traj.diverged_at.reshape(settings, -1)
    first = torch.where(diverged >= 0, diverged, traj.steps + 1).amin(-1)
    return Trajectory(iterates=traj.iterates[:, :, 0].reshape(steps, settings, -1).mean(-1)[..., None],
                      recorded_steps=traj.recorded_steps, loss=mean(traj.loss), grad_norm=mean(traj.grad_norm),
                      clipped_grad_norm=mean(traj.clipped_grad_norm),
                      diverged_at=torch.where(first <= traj.steps, first, -1),
                      final=traj.final[:, 0].reshape(settings, -1).mean(-1, keepdim=True),
                      max_loss=traj.max_loss, state=traj.state)


def tail_bias(chain_mean: np.ndarray) -> np.ndarray:
    """|L x̄| with x̄ the average over t in [T/2, T) of the chain mean (rows t = 0..T, L = 1): the measured bias
    per config, over the same tail window as ``simulate_bias``; before the first step (t = 0), |x_0|."""
    if len(chain_mean) < 2:
        return np.abs(chain_mean[-1])
    return measured_bias(torch.from_numpy(chain_mean)).numpy()


def per_sample_batches(v: dict) -> bool:
    """Whether the oracle hands out b per-sample gradients (per-sample clipping with b > 1)."""
    return v["batch"] > 1 and v["mode"] == "per_sample"


def make_transform(v: dict, lr, threshold):
    """Per-sample clipping (1/b) Σ clip_c(gᵢ) on [runs, b, 1] gradients, else clip_c of the (batch-mean) gradient."""
    if per_sample_batches(v):
        return chain(clip_per_sample(threshold), scale(lr))
    return optimizer(lr=lr, clip_threshold=threshold)


def reproduce_code(v: dict) -> str:
    if v["batch"] > 1:
        per_sample = per_sample_batches(v)
        transform = (f"chain(clip_per_sample({v['c']:g}), scale({v['eta']:g}))" if per_sample
                     else f"optimizer(lr={v['eta']:g}, clip_threshold={v['c']:g})")
        imports = "chain, clip_per_sample, scale" if per_sample else "optimizer"
        return f"""import torch
from steplab.clipping import bias_theory, measured_bias
from steplab.problems import Noisy, Quadratic, {noise_code(v).split('(')[0]}
from steplab.trajectory import run
from steplab.transforms import {imports}

noise = {noise_code(v)}
# f(x) = x²/2 with b = {v['batch']} noisy gradients per step ({'per-sample' if per_sample else 'batch'} clipping)
problem = Noisy(Quadratic([1.0]), noise, batch_size={v['batch']}, per_sample={per_sample})
x0 = torch.zeros({v['chains']}, 1, dtype=torch.float64)  # {v['chains']} chains start at the minimum
traj = run(problem, {transform}, x0, steps={v['steps']}, seed={v['seed']})
chain_mean = traj.iterates[:, :, 0].mean(1)  # mean over chains of x_t, t = 0..T
bias = measured_bias(chain_mean).item()  # |tail average over T/2 <= t < T|
theory = bias_theory({v['c']:g}, noise, {v['batch']}, per_sample={per_sample}).item()
print(f"measured bias = {{bias:.4f}}, theory = {{theory:.4f}}")"""
    return f"""import torch
from steplab.clipping import bias_theory, measured_bias
from steplab.problems import Noisy, Quadratic, {noise_code(v).split('(')[0]}
from steplab.trajectory import run
from steplab.transforms import optimizer

noise = {noise_code(v)}
problem = Noisy(Quadratic([1.0]), noise)  # f(x) = x²/2, stochastic gradient g = x + ξ
x0 = torch.zeros({v['chains']}, 1, dtype=torch.float64)  # {v['chains']} chains start at the minimum
traj = run(problem, optimizer(lr={v['eta']:g}, clip_threshold={v['c']:g}), x0, steps={v['steps']}, seed={v['seed']})
chain_mean = traj.iterates[:, :, 0].mean(1)  # mean over chains of x_t, t = 0..T
bias = measured_bias(chain_mean).item()  # |tail average over T/2 <= t < T|
print(f"measured bias = {{bias:.4f}}, theory = {{bias_theory({v['c']:g}, noise).item():.4f}}")"""


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


def main() -> None:
    st.title("Clipping bias")
    st.caption("Clipped SGD x ← x − η·clip_c(x + ξ) on f(x) = x²/2: with asymmetric noise the chains settle "
               "at a point where the *clipped* gradient averages to zero, not at the minimum — a bias floor "
               "that does not shrink with η (Koloskova, Hendrikx & Stich 2023).")
    clock = page_clock(PAGE)
    ctl = Controls(PAGE, CONTROLS)
    ctl.show_warnings()
    st.sidebar.header("Noise")
    v = {"noise": ctl("noise"), "sigma": ctl("sigma")}
    v["p"] = ctl("p", disabled=v["noise"] != "two_point")
    st.sidebar.header("Clipped SGD")
    for name in ("c", "eta", "batch"):
        v[name] = ctl(name)
    v["mode"] = ctl("mode", disabled=v["batch"] == 1)
    for name in ("chains", "steps", "seed"):
        v[name] = ctl(name)
    noise = make_noise(v)
    chains = v["chains"]
    per_sample = v["mode"] == "per_sample"
    problem = Noisy(Quadratic([1.0], device=device()), CommonNoise(noise, group=chains), batch_size=v["batch"],
                    per_sample=per_sample_batches(v))  # every config sees the same draws
    theory = theory_at(v["noise"], v["sigma"], v["p"], v["c"], v["batch"], per_sample)
    pins = Pins(ctl, parse_pin, format_pin)
    runs = [(v["c"], v["eta"]), (None, v["eta"])] + pins.values  # (c, η); c = None: unclipped
    count = len(runs)

    def start() -> Live:
        x0 = torch.zeros(count * chains, 1, dtype=torch.float64, device=device())
        at_minimum = start_of(x0.new_zeros(count, 1), x0.new_zeros(count))
        return Live.at(x0, problem.loss(x0), generator=make_generator(v["seed"], device()), history=at_minimum)

    def step(live: Live, k: int) -> Trajectory:
        """k steps of all R configs x C chains in one run(): per-run step size and clip threshold tensors."""
        threshold = torch.tensor([float("inf") if c is None else c for c, _ in runs], dtype=torch.float64,
                                 device=device())
        lr = torch.tensor([eta for _, eta in runs], dtype=torch.float64, device=device())
        transform = make_transform(v, lr.repeat_interleave(chains), threshold.repeat_interleave(chains))
        traj = run(problem, transform, live.x, k, generator=live.generator, seed=None)
        diverged = (traj.diverged_at.reshape(count, chains) >= 0).sum(-1).cpu().numpy()  # frozen chains re-count
        live.notes["diverged chains"] = diverged
        return traj

    def advance(live: Live, k: int) -> Live:
        """k steps, in pieces of at most CHUNK_ELEMENTS (steps x chains) per recorded array: a long run of 10⁵
        chains is summarised piece by piece instead of recording every chain's every step at once."""
        piece = max(1, CHUNK_ELEMENTS // (count * chains))
        for done in range(0, k, piece):
            live.advance(step, min(piece, k - done), summarise=lambda traj: per_setting(traj, count))
        return live

    labels = run_labels(runs)
    reset_key = (v["noise"], v["sigma"], v["p"], v["batch"], v["mode"], chains, v["seed"], tuple(pins.values))
    player = playback(PAGE, steps=v["steps"], reset_key=reset_key, live_key=(v["c"], v["eta"], v["steps"]),
                      start=start, advance=advance,
                      render=lambda live, state: render(live, state, v, runs, labels, theory, chains))
    pins.buttons((v["c"], v["eta"]), what="setting (c, η)")

    st.subheader("The bias floor across thresholds")
    sweep_for = (v["noise"], v["sigma"], v["p"], v["eta"], v["seed"], v["batch"], per_sample)
    sweep = st.session_state.get(keys.widget(PAGE, "sweep_for")) == sweep_for
    if st.button("Measure the whole curve (12 thresholds × 256 chains, one batched run, each past its relaxation time)",
                 key=keys.widget(PAGE, "sweep"), icon=":material/query_stats:"):
        st.session_state[keys.widget(PAGE, "sweep_for")] = sweep_for
        sweep = True
    live = player["live"]
    biases = tail_bias(live.history.iterates[:, :, 0].numpy())
    measured = float(biases[0])
    clipped = [r for r in range(count) if runs[r][0] is not None]
    data = {"theory": theory_curves(v["noise"], v["sigma"], v["p"]),
            "now": pd.DataFrame({"c": [runs[r][0] for r in clipped], "bias": biases[clipped],
                                 "what": ["this run (live)" if r == 0 else labels[r] for r in clipped],
                                 "note": [stationarity(noise, runs[r][0], runs[r][1], live.t) for r in clipped]})}
    if sweep:
        with measure(PAGE):
            data["sweep"] = measured_curve(v["noise"], v["sigma"], v["p"], v["eta"], v["seed"], v["batch"], per_sample)
    charts.show(specs.curve_spec(sweep), data)
    if sweep:
        st.dataframe(sweep_table(data["sweep"]), hide_index=True)
    st.caption("Grey: theory (the stationary point of the mean clipped gradient); dashed: min(σ, σ²/c), the "
               "worst-case order over noise laws of variance σ² in Koloskova–Hendrikx–Stich's bounds (a two-point law "
               "attains it; a given law can lie far below); red +: this run's measured bias (and the pinned "
               f"runs'), marked “not yet stationary” while T/2 is shorter than {RELAXATIONS} relaxation times "
               "1/(η h′): the chains, started at the minimum, are still moving towards their stationary point. "
               "Cauchy noise is symmetric, so its bias is 0 — but unclipped SGD never settles (see the histogram).")
    reproduce_expander(reproduce_code(v), "The page runs the unclipped chains and the pinned settings alongside, on "
                       "the same noise draws: set lr and clip_threshold to a pin's values to reproduce it.")
    st.session_state[keys.result(PAGE)] = {"t": live.t, "bias": measured, "theory": theory, "runs": runs,
                                           "labels": labels, "biases": biases.tolist(), "x": live.x}
    ctl.finish(extra={"pins": pins.param()})
    clock.show()


def stationarity(noise, c: float, eta: float, t: int) -> str:
    """'' once the averaging window t ≥ T/2 starts RELAXATIONS relaxation times in, else 'not yet stationary'."""
    relax = float(relaxation_steps(noise, torch.tensor([c], dtype=torch.float64, device=THEORY), eta)[0])
    return "" if t // 2 >= RELAXATIONS * relax else "not yet stationary"


def theory_text(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.4f}"


def render(live: Live, state: dict, v: dict, runs: list, labels: list[str], theory: float, chains: int) -> None:
    history = live.history
    chain_mean = history.iterates[:, :, 0].numpy()  # [t + 1, R] mean over chains of x_t
    diverged = live.notes.get("diverged chains", np.zeros(len(runs), dtype=int))
    bias = tail_bias(chain_mean)
    cols = st.columns(4)
    cols[0].metric("step", f"{live.t} / {v['steps']}")
    relax = float(relaxation_steps(make_noise(v), torch.tensor([v["c"]], dtype=torch.float64, device=THEORY),
                                   v["eta"])[0])
    settled = live.t // 2 >= RELAXATIONS * relax
    cols[1].metric("measured bias (clipped)", f"{bias[0]:.4f}", help="|mean over chains and over t ≥ T/2 of x_t|",
                   delta=None if settled else f"not yet stationary: burn-in needs ≥ {RELAXATIONS} × {relax:.3g} steps",
                   delta_color="off")
    cols[2].metric("theory", theory_text(theory))
    cols[3].metric("unclipped", f"{bias[1]:.4f}")
    count = len(runs)
    rows = [{"run": labels[r], "c": "∞" if c is None else f"{c:g}", "η": f"{eta:g}",
             "measured bias": f"{bias[r]:.4f}",
             "theory": "–" if c is None else theory_text(theory_at(v["noise"], v["sigma"], v["p"], c, v["batch"],
                                                                   v["mode"] == "per_sample")),
             "mean loss": fmt(float(history.loss[-1, r])),
             "mean ‖g‖ raw": fmt(float(history.grad_norm[-1, r])) if live.t else "–",
             "mean ‖g‖ clipped": fmt(float(history.clipped_grad_norm[-1, r])) if live.t else "–",
             "status": f"{diverged[r]} of {chains} chains diverged" if diverged[r] else "all chains finite"}
            for r, (c, eta) in enumerate(runs)]
    st.dataframe(pd.DataFrame(rows), hide_index=True)
    for r, (c, eta) in enumerate(runs):
        if diverged[r]:
            st.error(f"**{labels[r]}**: {diverged[r]} chains diverged (|x| blew past 10⁶; heavy-tailed noise "
                     f"with η = {eta:g} and {'no clipping' if c is None else f'c = {c:g}'})", icon=":material/error:")
    left, right = st.columns(2)
    with measure(PAGE):  # the chains stay on the device: only the 40 bin counts per setting come back
        x = live.x[:, 0].reshape(count, chains)
        finite = x[torch.isfinite(x)]
        low, high = (torch.quantile(finite, finite.new_tensor([0.01, 0.99])).tolist() if finite.numel()
                     else (-1.0, 1.0))
        low, high = min(low, -abs(theory) if math.isfinite(theory) else low), max(high, abs(theory) if
                                                                                  math.isfinite(theory) else high)
        edges = np.linspace(low - 1e-9, high + 1e-9, 41)
        histogram = ensemble.histograms(x, edges[0], edges[-1], bins=40).cpu().numpy()
    live.notes["histogram counts"] = histogram.sum(1).tolist()
    bins = []
    for r, counts in enumerate(histogram):
        bins.append(pd.DataFrame({"run": labels[r], "left": edges[:-1], "right": edges[1:], "count": counts,
                                  "zero": 0}))
    marks = [{"x": 0.0, "what": "minimum"}]
    if math.isfinite(theory) and theory > 0:
        sign = 1.0 if bias[0] == 0 or chain_mean[-1][0] >= 0 else -1.0
        marks.append({"x": sign * theory, "what": "theory"})
    charts.show(specs.histogram_spec(), {"bins": pd.concat(bins, ignore_index=True), "marks": pd.DataFrame(marks)},
                left)
    rms = np.sqrt(2 * history.loss.numpy())  # f = x²/2: √(2 E f(x_t)) = √E‖∇f(x_t)‖², ≥ E‖∇f(x_t)‖ (Jensen)
    charts.series(charts.long_frame(rms, labels, column="rms grad"), "rms grad",
                  "the rate: √E‖∇f(x_t)‖² over the chains (log)", labels, log=True, height=300,
                  changes=state["changes"], container=right)
    frame = charts.long_frame(chain_mean, labels, column="mean x")
    charts.series(frame, "mean x", "mean over chains of x_t", labels, log=False, height=260,
                  changes=state["changes"])


main()
