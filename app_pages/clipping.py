"""Clipping bias: many chains of clipped SGD on f(x) = x²/2 with asymmetric noise settle where the mean
clipped gradient vanishes, not at the minimum: a stationary gradient that no step size removes, as the
mean-field theory predicts (Koloskova, Hendrikx & Stich 2023). Symmetric noise (even heavy-tailed Cauchy
noise) has no bias; what matters is asymmetry."""

from __future__ import annotations

import math
import time
from functools import partial

import numpy as np
import pandas as pd
import streamlit as st
import torch

from app_pages import browser_playback, charts, ensemble, keys, specs
from app_pages import browser_player as bp
from app_pages import clipping_theory as ct
from app_pages import clipping_vega as cv
from app_pages.clipping_vega import RELAXATIONS
from app_pages.controls import Control, Controls
from app_pages.live import Live, start_of
from app_pages.pins import Pins, step_clip_pins
from app_pages.player import playback
from app_pages.ui import device, fmt, measure, page_clock, reproduce_expander
from steplab.clipping import measured_bias
from steplab.device import make_generator
from steplab.problems import CommonNoise, Noisy, Quadratic
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
    Control("playback", "playback", "select", "browser", options=("browser", "server"),
            labels={"browser": "in the browser (the whole run sent once)",
                    "server": "on the server (a rerun per frame)"}),
]
SPECS = {spec.name: spec for spec in CONTROLS}
CHUNK_ELEMENTS = 2**25  # steps x chains recorded by one run() call of the live view (~256 MB per float64 array)


parse_pin, format_pin = step_clip_pins(SPECS, held_as=("c", "eta"))  # links write eta:c


def run_labels(runs: list[tuple[float | None, float]]) -> list[str]:
    """'1 · clipped …', '2 · unclipped …', '3 · pin 1: …' (numbered, so the colours follow the run order)."""
    names = ["clipped:", "unclipped:"] + [f"pin {i}:" for i in range(1, len(runs) - 1)]
    return [f"{r + 1} · {name} c = {'∞' if c is None else f'{c:g}'}, η = {eta:g}"
            for r, (name, (c, eta)) in enumerate(zip(names, runs, strict=True))]


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
    for name in ("chains", "steps", "seed", "playback"):
        v[name] = ctl(name)
    noise = ct.make_noise(v)
    chains = v["chains"]
    per_sample = v["mode"] == "per_sample"
    problem = Noisy(Quadratic([1.0], device=device()), CommonNoise(noise, group=chains), batch_size=v["batch"],
                    per_sample=per_sample_batches(v))  # every config sees the same draws
    theory = ct.theory_at(v["noise"], v["sigma"], v["p"], v["c"], v["batch"], per_sample)
    pins = Pins(ctl, parse_pin, format_pin)
    runs = [(v["c"], v["eta"]), (None, v["eta"])] + pins.values  # (c, η); c = None: unclipped
    count = len(runs)
    browser = v["playback"] == "browser"

    def start() -> Live:
        x0 = torch.zeros(count * chains, 1, dtype=torch.float64, device=device())
        at_minimum = start_of(x0.new_zeros(count, 1), x0.new_zeros(count))
        live = Live.at(x0, problem.loss(x0), generator=make_generator(v["seed"], device()), history=at_minimum)
        if browser:  # the chains at every frame the chart will show, kept on the device until counted
            cv.plan_frames(live.notes, x0, v["steps"])
        return live

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
        settings = live.notes.setdefault("settings", [])  # (from step, c, η) of the current setting's runs
        if not settings or settings[-1][1:] != (v["c"], v["eta"]):
            settings.append((live.t, v["c"], v["eta"]))
        piece = max(1, CHUNK_ELEMENTS // (count * chains))

        def summarise(traj: Trajectory, t0: int) -> Trajectory:
            cv.record_frames(live.notes, traj.iterates, t0)
            return per_setting(traj, count)

        for done in range(0, k, piece):
            live.advance(step, min(piece, k - done), summarise=partial(summarise, t0=live.t))
        return live

    labels = run_labels(runs)
    reset_key = (v["noise"], v["sigma"], v["p"], v["batch"], v["mode"], chains, v["seed"], tuple(pins.values))
    run_args = dict(steps=v["steps"], reset_key=reset_key, live_key=(v["c"], v["eta"], v["steps"]), start=start,
                    advance=advance)
    if browser:  # the whole run once per change; one chart plays it (app_pages.browser_playback)
        with measure(PAGE):
            played = browser_playback.playback(PAGE, **run_args)
            live = played.live
            theories = [ct.theory_at(v["noise"], v["sigma"], v["p"], c, v["batch"], per_sample)
                        for _, c, _ in live.notes["settings"]]  # the chart's x axis holds ±theory of each setting
            cv.frame_histograms(live.notes, count, [t * sign for t in theories if math.isfinite(t) for sign in (-1, 1)])
        render(live, {"changes": played.changes, "played": played}, v, runs, labels, theory, chains)
        slot = st.container()
    else:
        live = playback(PAGE, **run_args, render=lambda live, state: render(live, state, v, runs, labels, theory,
                                                                             chains))["live"]
    pins.buttons((v["c"], v["eta"]), what="setting (c, η)")

    st.subheader("The bias floor across thresholds")
    sweep_for = (v["noise"], v["sigma"], v["p"], v["eta"], v["seed"], v["batch"], per_sample)
    sweep = st.session_state.get(keys.widget(PAGE, "sweep_for")) == sweep_for
    if st.button("Measure the whole curve (12 thresholds × 256 chains, one batched run, each past its relaxation time)",
                 key=keys.widget(PAGE, "sweep"), icon=":material/query_stats:"):
        st.session_state[keys.widget(PAGE, "sweep_for")] = sweep_for
        sweep = True
    biases = tail_bias(live.history.iterates[:, :, 0].numpy())
    segments = ct.run_segments(live, runs, v)
    data = {"theory": ct.theory_curves(v["noise"], v["sigma"], v["p"])}
    if sweep:
        with measure(PAGE):
            data["sweep"] = ct.measured_curve(v["noise"], v["sigma"], v["p"], v["eta"], v["seed"], v["batch"],
                                              per_sample)
    if browser:
        with measure(PAGE):
            spec = cv.spec(live.history, labels, segments, bp.arrow_frame(data["theory"]), data.get("sweep"),
                           live.notes["histograms"], played.changes, chart_start(played, sweep), played.spec_id,
                           played.anchor.fps)
        browser_playback.draw(PAGE, played, spec, slot)
        slot.caption(f"The readouts and the table above are the end of the run (step {live.t}); ▶ and the grey bar "
                     "play and scrub it, every panel at the same step, and c or η changed mid-way continues from the "
                     "step the chart is at.")
    else:
        clipped = [r for r in range(count) if runs[r][0] is not None]
        ok = cv.bias_frames(live.history.iterates[:, :, 0].numpy(), np.array([live.t]), segments)["ok"][0]
        data["now"] = pd.DataFrame({"c": [runs[r][0] for r in clipped], "bias": biases[clipped],
                                    "what": ["this run (live)" if r == 0 else labels[r] for r in clipped],
                                    "note": ["" if ok[r] else "not yet stationary" for r in clipped]})
        charts.show(specs.curve_spec(sweep), data)
    if sweep:
        st.dataframe(ct.sweep_table(data["sweep"]), hide_index=True)
    st.caption("Grey: theory (the stationary point of the mean clipped gradient); dashed: min(σ, σ²/c), the "
               "worst-case order over noise laws of variance σ² in Koloskova–Hendrikx–Stich's bounds (a two-point law "
               f"attains it; a given law can lie far below); {'+' if browser else 'red +'}: this run's measured bias "
               f"(and the pinned runs'){' at the step shown' if browser else ''}, marked “not yet stationary” while "
               f"T/2 is shorter than {RELAXATIONS} relaxation times 1/(η h′) after its setting began: the chains, "
               "started at the minimum, are still moving towards their stationary point."
               + (" Circles: the sweep, each threshold run past its relaxation time (static)." if sweep else "")
               + " Cauchy noise is symmetric, so its bias is 0 — but unclipped SGD never settles (see the histogram).")
    reproduce_expander(reproduce_code(v), "The page runs the unclipped chains and the pinned settings alongside, on "
                       "the same noise draws: set lr and clip_threshold to a pin's values to reproduce it.")
    st.session_state[keys.result(PAGE)] = {"t": live.t, "bias": float(biases[0]), "theory": theory, "runs": runs,
                                           "labels": labels, "biases": biases.tolist(), "x": live.x}
    ctl.finish(extra={"pins": pins.param()})
    clock.show()


def chart_start(played, sweep: bool) -> dict:
    """Where the chart starts: the run's own start, or the frame it is at now when only the sweep's points came
    or went (a new spec restarts the chart: pressing the sweep button must not send it back)."""
    key = keys.widget(PAGE, "chart_start")
    drawn = st.session_state.get(key)
    if drawn is not None and drawn[0] is played:  # the same run (a fresh one after ?playback=server has id 0 too)
        if drawn[1] == sweep:
            return drawn[2]
        pos = played.anchor.position(time.monotonic())
        start = {"pos": pos, "playing": played.anchor.playing and pos < played.anchor.frames}
    else:
        start = played.start_frame()
    st.session_state[key] = (played, sweep, start)
    return start


def render(live: Live, state: dict, v: dict, runs: list, labels: list[str], theory: float, chains: int) -> None:
    """The readouts, of the live step (server player) or of the end of the run (browser: its chart plays the
    run); the server player's charts."""
    history, end = live.history, state.get("played") is not None
    segments = ct.run_segments(live, runs, v)
    at = cv.bias_frames(history.iterates[:, :, 0].numpy(), np.array([live.t]), segments)
    bias, diverged = at["bias"][0], live.notes.get("diverged chains", np.zeros(len(runs), dtype=int))
    if end:
        st.caption(f"At the end of the run (step {live.t}; the chart below plays it step by step):")
    cols = st.columns(4)
    cols[0].metric("steps run" if end else "step", f"{live.t} / {v['steps']}")
    relax = cv.in_force(segments[0], live.t)["relax"]
    cols[1].metric("measured bias (clipped)", f"{bias[0]:.4f}",
                   help="|mean over chains and over t ≥ T/2 of x_t|", delta_color="off",
                   delta=None if at["ok"][0, 0] else f"not yet stationary: burn-in needs ≥ {RELAXATIONS} × {relax:.3g} "
                                                     "steps")
    cols[2].metric("theory", ct.theory_text(theory))
    cols[3].metric("unclipped", f"{bias[1]:.4f}")
    rows = [{"run": labels[r], "c": "∞" if c is None else f"{c:g}", "η": f"{eta:g}",
             "measured bias": f"{bias[r]:.4f}",
             "theory": ct.theory_text(segments[r][-1]["theory"]),
             "mean loss": fmt(float(history.loss[-1, r])),
             "mean ‖g‖ raw": fmt(float(history.grad_norm[-1, r])) if live.t else "–",
             "mean ‖g‖ clipped": fmt(float(history.clipped_grad_norm[-1, r])) if live.t else "–",
             "status": f"{diverged[r]} of {chains} chains diverged" if diverged[r] else "all chains finite"}
            for r, (c, eta) in enumerate(runs)]
    st.dataframe(pd.DataFrame(rows), hide_index=True)
    with st.container():  # however many messages, the charts below keep their place (no remount per redraw)
        for r, (c, eta) in enumerate(runs):
            if diverged[r]:
                st.error(f"**{labels[r]}**: {diverged[r]} chains diverged (|x| blew past 10⁶; heavy-tailed noise "
                         f"with η = {eta:g} and {'no clipping' if c is None else f'c = {c:g}'})",
                         icon=":material/error:")
    if not end:
        with measure(PAGE):  # the chains stay on the device: only the bin counts per setting come back
            sign = 1.0 if bias[0] == 0 or history.iterates[-1, 0, 0] >= 0 else -1.0
            cv.server_charts(history, live.x, labels, state["changes"], theory, sign, st, live.notes)


main()
