"""Large-step logistic regression: GD with huge step sizes on separable 2-D data behaves like the Batch
Perceptron (Tyurin 2025); the loss can spike while the classifier keeps improving (Wu et al. 2024); the
normalized step r_t = tau/rho_a says how far each step goes beyond the loss's convergence radius (Sao 2026)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import streamlit as st
import torch

from app_pages import browser_playback, charts, ensemble, keys, logistic_vega, specs
from app_pages.controls import Control, Controls
from app_pages.live import MAX_LOSS, Live
from app_pages.player import playback
from app_pages.ui import THEORY, device, fmt, measure, page_clock, reproduce_expander
from steplab.logistic import algorithms, data, metrics
from steplab.trajectory import Trajectory

PAGE = "logistic"
DATASETS = {"wu4": "Wu et al. 4-point toy", "thm41": "Tyurin Thm 4.1 (2 points)",
            "thm51": "Tyurin Thm 5.1 worst case (1000 points)", "gauss2d": "Gaussian, 100 separable points"}
METHODS = {"lr_gd": "LR + GD", "normalized_lr_gd": "Normalized LR + GD", "capped_lr_gd": "ρ-capped LR + GD"}
CONTROLS = [
    Control("data", "Data set", "select", "wu4", options=tuple(DATASETS), labels=DATASETS),
    Control("method", "Method", "select", "lr_gd", options=tuple(METHODS), labels=METHODS),
    Control("gamma_min", "smallest step size γ", "log", 0.1, low=0.01, high=1e6),
    Control("gamma_max", "largest step size γ", "log", 1000.0, low=0.01, high=1e6),
    ensemble.control(PAGE),  # "runs": step sizes in the sweep; range by device (app_pages.ensemble.SIZES)
    Control("r_max", "cap r_max of the normalized step (ρ-capped only)", "float", 1.0, low=0.1, high=5.0, step=0.1),
    Control("perceptron", "overlay the Batch Perceptron", "toggle", True),
    Control("steps", "steps", "int", 100, low=10, high=1000, step=10),
    Control("playback", "playback", "select", "browser", options=("browser", "server"),
            labels={"browser": "in the browser (the whole run sent once)",
                    "server": "on the server (a rerun per frame)"}),
]
DATA_CODE = {"wu4": "wu_toy()", "thm41": "thm41_toy()", "thm51": "thm51_worst_case(1000)",
             "gauss2d": "gaussian_separable(n=100, d=2, seed=0)"}


def on_device(dataset: data.Dataset) -> data.Dataset:
    """The same data set on the compute device (the page's copy for drawing stays on the CPU)."""
    return data.Dataset(dataset.name, dataset.features.to(device()), dataset.labels.to(device()))


def load(name: str) -> data.Dataset:
    return {"wu4": data.wu_toy, "thm41": data.thm41_toy, "thm51": lambda: data.thm51_worst_case(1000),
            "gauss2d": lambda: data.gaussian_separable(n=100, d=2, seed=0)}[name]()


def sweep(v: dict) -> list[float]:
    low, high = sorted((v["gamma_min"], v["gamma_max"]))
    if v["runs"] == 1 or low == high:
        return [high]
    return [float(f"{g:.4g}") for g in np.geomspace(low, high, v["runs"])]


def as_trajectory(histories: list[algorithms.History]) -> Trajectory:
    """The method groups' histories side by side as one :class:`Trajectory` (theta_t, f, ||grad f|| per step).

    ``grad_norm`` is ||grad f(theta_t)|| at the steps t that were updated (the last row belongs to the next call);
    a run has diverged where its loss overflows (above the driver's bound)."""
    weights = torch.cat([h.weights for h in histories], dim=1)
    loss = torch.cat([h.loss for h in histories], dim=1)
    grad_norm = torch.cat([h.grad_norm[:-1] for h in histories], dim=1)
    bad = ~(loss <= MAX_LOSS)
    diverged_at = torch.where(bad.any(0), bad.to(torch.int8).argmax(0), -1)
    return Trajectory(iterates=weights, recorded_steps=torch.arange(len(weights), device=weights.device), loss=loss,
                      grad_norm=grad_norm, clipped_grad_norm=grad_norm, diverged_at=diverged_at, final=weights[-1],
                      max_loss=MAX_LOSS)


def advance_runs(live: Live, dataset: data.Dataset, groups: list[tuple[str, torch.Tensor]], r_max: float,
                 k: int) -> Live:
    """k more steps of each method group from the current theta: ``run_gd`` resumed from a state at step t
    (the library's own update rules; a mid-run change of method or γ continues from the same theta)."""

    def step(live: Live, k: int) -> Trajectory:
        blocks = live.x.split([len(gamma) for _, gamma in groups])
        return as_trajectory([
            algorithms.run_on(dataset, gamma, k, method, r_max=r_max, device=theta.device,  # not the tiny-work CPU
                              state=algorithms.GDState(theta, live.t, torch.full((len(gamma),), -1,
                                                                                 device=theta.device)))
            for (method, gamma), theta in zip(groups, blocks, strict=True)])

    return live.advance(step, k)


def reproduce_code(v: dict, gammas: list[float]) -> str:
    extra = f", r_max={v['r_max']:g}" if v["method"] == "capped_lr_gd" else ""
    fn = DATA_CODE[v["data"]].split("(")[0]
    return f"""import torch
from steplab.logistic import run_on
from steplab.logistic.data import {fn}

dataset = {DATA_CODE[v['data']]}
gammas = torch.tensor({gammas}, dtype=torch.float64)  # one run per step size, one batched call
history = run_on(dataset, gammas, steps={v['steps']}, method="{v['method']}"{extra})
for r, gamma in enumerate(gammas.tolist()):
    print(f"γ = {{gamma:g}}: loss {{history.loss[-1, r].item():.4g}}, accuracy {{history.accuracy[-1, r].item():.3f}}, "
          f"{{history.separation_message(r)}}")"""


def main() -> None:
    st.title("Large-step logistic regression")
    st.caption("GD on the logistic loss of separable data, for a sweep of step sizes γ. Large γ makes LR+GD follow "
               "the Batch Perceptron (Tyurin 2025, Thm 3.2); the loss may rise while accuracy improves.")
    clock = page_clock(PAGE)
    ctl = Controls(PAGE, CONTROLS)
    ctl.show_warnings()
    v = {name: ctl(name) for name in ("data", "method", "gamma_min", "gamma_max", "runs")}
    v["r_max"] = ctl("r_max", disabled=v["method"] != "capped_lr_gd")
    v["perceptron"] = ctl("perceptron")
    v["steps"] = ctl("steps")
    v["playback"] = ctl("playback")
    dataset = load(v["data"])
    computed = on_device(dataset)
    gammas = sweep(v)
    groups = [(v["method"], torch.tensor(gammas, dtype=torch.float64, device=device()))]
    labels = [f"{i + 1} · γ = {g:g}" for i, g in enumerate(gammas)]
    if v["perceptron"]:
        groups.append(("batch_perceptron", torch.tensor([1.0], dtype=torch.float64, device=device())))
        labels.append(f"{len(labels) + 1} · Batch Perceptron")

    def start() -> Live:
        theta0 = torch.zeros(sum(len(g) for _, g in groups), 2, dtype=torch.float64,
                             device=device())  # theta_0 = 0 for every method
        return Live.at(theta0, theta0.new_full((len(theta0),), math.log(2.0)))  # f(0) = log 2

    run = {"steps": v["steps"], "reset_key": (v["data"], v["perceptron"], len(gammas)),
           "live_key": (v["method"], tuple(gammas), v["r_max"], v["steps"]), "start": start,
           "advance": lambda live, k: advance_runs(live, computed, groups, v["r_max"], k)}
    if v["playback"] == "browser":  # the whole run once per change; one chart plays it (app_pages.browser_playback)
        with measure(PAGE):
            played = browser_playback.playback(PAGE, **run)
        render(played.live, {"changes": played.changes, "played": played}, dataset, computed, labels, gammas)
        live = played.live
    else:
        live = playback(PAGE, **run, render=lambda live, state: render(live, state, dataset, computed, labels,
                                                                      gammas))["live"]
    reproduce_expander(reproduce_code(v, gammas),
                       "The Batch Perceptron overlay is `run_on(dataset, [1.0], steps, method=\"batch_perceptron\")`.")
    loss = summaries(live, computed)[0]
    st.session_state[keys.result(PAGE)] = {"t": live.t, "loss": loss[-1, : len(gammas)].tolist(), "x": live.x}
    ctl.finish()
    clock.show()


def summaries(live: Live, dataset: data.Dataset):
    """loss, accuracy, ||grad f||, normalized margin [T+1, R] and r_t [T, R] of the recorded weights (library
    metrics; the normalized margin min_i m_i / ||theta_t|| is 0 at theta_0 = 0), computed on ``dataset``'s device
    and moved to the CPU to be drawn; kept in ``live.notes`` for its step t (a rerun that computed nothing, such as
    a playing chart's report, reuses them: the history only changes by growing)."""
    kept = live.notes.get("summaries")
    if kept is not None and kept[0] == live.t:
        return kept[1]
    with measure(PAGE):
        weights = live.history.iterates.to(dataset.features.device)
        loss, accuracy, grad_norm, _, r = algorithms.summaries(weights, dataset.signed)
        margin = torch.nan_to_num(metrics.normalized_margin(weights, dataset.signed), nan=0.0)
        values = tuple(value.cpu().numpy() for value in (loss, accuracy, grad_norm, margin, r))
    live.notes["summaries"] = (live.t, values)
    return values


def status_text(loss: np.ndarray, accuracy: np.ndarray, run: int) -> str:
    """'diverged at step k', 'separated at t = a; stays separated from t = b', 'separated at t = a; lost again by
    step T', or 'not separated by step T' for one run (columns of the [T+1, R] loss and accuracy: steps 0..T)."""
    bad = np.flatnonzero(~np.isfinite(loss[:, run]))
    if bad.size:
        return f"diverged at step {bad[0]}: the loss overflowed"
    acc = torch.from_numpy(accuracy[:, run:run + 1])
    first, stays = int(metrics.separation_time(acc)[0]), int(metrics.stays_separated_from(acc)[0])
    last = len(accuracy) - 1
    if first < 0:
        return f"not separated by step {last}"
    return f"separated at t = {first}; " + (f"stays separated from t = {stays}" if stays >= 0
                                            else f"lost again by step {last}")


def loss_hint(loss: np.ndarray, labels: list[str], sweep_runs: int, whole: bool = False) -> str | None:
    """The hint shown when some run of the sweep rose above its starting loss log 2 at some step so far (``whole``:
    the history is the whole run, and the hint says so)."""
    finite = np.where(np.isfinite(loss[:, :sweep_runs]), loss[:, :sweep_runs], -np.inf)
    peak = finite.max(0)
    worst = int(np.argmax(peak))
    if peak[worst] <= loss[0, worst]:
        return None
    where = f"Over the whole run (steps 0–{len(loss) - 1}), run" if whole else "Run"
    at = int(np.argmax(finite[:, worst]))
    return (f"{where} {labels[worst]} rose to loss {fmt(float(peak[worst]))} at t = {at}, "
            "above its starting value log 2 — yet look at the accuracy: with large γ the loss is a poor "
            "progress measure (Tyurin 2025, Thm 4.1).")


def separation_markers(accuracy: np.ndarray, labels: list[str]) -> pd.DataFrame:
    """(run, step, accuracy = 1) at the step from which each run stays separated (runs that do not: no row)."""
    stays = metrics.stays_separated_from(torch.as_tensor(accuracy, device=THEORY))  # the drawn accuracy
    rows = [{"run": label, "step": int(t), "accuracy": 1.0} for label, t in zip(labels, stays.tolist()) if t >= 0]
    return pd.DataFrame(rows, columns=["run", "step", "accuracy"])


def sweep_view(gammas: list[float], loss: np.ndarray, accuracy: np.ndarray, t: int, whole: bool = False) -> None:
    """The whole sweep at step t against log10 γ (one point per step size), for sweeps longer than the lines
    (``whole``: t is the end of the run, and the titles say so)."""
    n = len(gammas)
    separated = accuracy[-1, :n] >= 1.0
    at = f"at step {t}" + (" (the end of the run)" if whole else "")
    st.metric(f"separated {at}", f"{separated.mean():.0%} of {n} step sizes",
              help=f"accuracy 1 on the training set at step {t}; the lines below show {ensemble.LINES_MAX} evenly "
                   "spaced step sizes")
    frame = pd.DataFrame({"run": f"all {n} step sizes", "log10_gamma": np.log10(gammas), "accuracy": accuracy[-1, :n]})
    charts.series(frame, "accuracy", f"training accuracy {at} across the sweep (x: log10 γ)",
                  [f"all {n} step sizes"], log=False, height=160, x="log10_gamma")
    live_loss = pd.DataFrame({"run": f"all {n} step sizes", "log10_gamma": np.log10(gammas), "loss": loss[-1, :n]})
    charts.series(live_loss, "loss", f"loss {at} across the sweep (log; x: log10 γ)", [f"all {n} step sizes"],
                  height=160, x="log10_gamma")


def render(live: Live, state: dict, dataset: data.Dataset, computed: data.Dataset, labels: list[str],
           gammas: list[float]) -> None:
    """The table of the runs at their last step, the sweep view of a long sweep, the charts and the hint; with
    ``state["played"]`` (playback in the browser) the history is the whole run and one chart plays it."""
    played = state.get("played")
    values = summaries(live, computed)
    drawn = ensemble.drawn_runs(len(gammas), len(labels))  # every run, or 8 of a long sweep (and the overlay)
    sweep_runs = sum(i < len(gammas) for i in drawn)
    live.notes["drawn"] = drawn
    if len(drawn) < len(labels):
        sweep_view(gammas, values[0], values[1], live.t, whole=played is not None)
        values = tuple(value[:, drawn] for value in values)
        labels = [labels[i] for i in drawn]
    loss, accuracy, grad_norm, margin, r = values
    rows = []
    for i, label in enumerate(labels):
        rows.append({"run": label, "step": live.t, "loss": fmt(float(loss[-1, i])),
                     "accuracy": f"{accuracy[-1, i]:.3f}", "margin": fmt(float(margin[-1, i])),
                     "‖∇f‖": fmt(float(grad_norm[-1, i])), "r_t": fmt(float(r[-1, i])) if live.t else "–",
                     "max r so far": fmt(float(r[:, i].max())) if live.t else "–",
                     "status": status_text(loss, accuracy, i)})
    st.dataframe(pd.DataFrame(rows), hide_index=True)
    kinds = [int(i >= len(gammas)) for i in drawn]  # 0: the sweep's LR runs, 1: the Batch Perceptron
    if played is not None:  # playback in the browser: one chart, every panel following its step
        st.caption(f"The table, the status and the hint describe the whole run (the table: its end, step {live.t}); "
                   "▶ and the grey bar above the chart play and scrub it, and a setting changed mid-way continues "
                   "from the step the chart is at.")
        markers = [{"r": labels.index(row.run), "run": row.run, "s": int(row.step), "v": 1.0}
                   for row in separation_markers(accuracy, labels).itertuples()]
        theta = live.history.iterates.numpy()[:, drawn]
        diverged_at = live.history.diverged_at.numpy()[drawn]
        spec = logistic_vega.spec(dataset.features.numpy(), dataset.labels.numpy(), theta,
                                  {"loss": loss, "accuracy": accuracy, "grad_norm": grad_norm, "margin": margin,
                                   "r": r}, labels, kinds, markers, diverged_at, played.changes,
                                  played.start_frame(), played.spec_id, played.anchor.fps)
        browser_playback.draw(PAGE, played, spec)
    else:
        server_charts(live, state, dataset, values, labels, kinds)
    hint = loss_hint(loss, labels, sweep_runs, whole=played is not None) if live.t else None
    with st.container():  # with or without a hint, the elements below keep their place
        if hint:
            st.info(hint, icon=":material/lightbulb:")


def server_charts(live: Live, state: dict, dataset: data.Dataset, values: tuple, labels: list[str],
                  kinds: list[int]) -> None:
    """The server player's charts (a rerun per frame): boundaries at θ_t, and the series up to t."""
    loss, accuracy, grad_norm, margin, r = values
    left, right = st.columns([1, 1])
    features = dataset.features.numpy()
    box = float(np.abs(features).max() * 1.25)
    points = pd.DataFrame({"x": features[:, 0], "y": features[:, 1],
                           "label": np.where(dataset.labels.numpy() > 0, "y = +1", "y = −1")}).drop_duplicates()
    theta = live.x.cpu().numpy()[live.notes["drawn"]]
    lines = []
    for i, label in enumerate(labels):
        norm = np.linalg.norm(theta[i])
        if norm > 0 and np.isfinite(norm):
            direction = np.array([-theta[i, 1], theta[i, 0]]) / norm * box * 1.5
            kind = "Batch Perceptron" if kinds[i] else "LR"
            lines += [{"run": label, "x": -direction[0], "y": -direction[1], "kind": kind},
                      {"run": label, "x": direction[0], "y": direction[1], "kind": kind}]
    charts.show(specs.boundary_spec(round(box, 3)), {"points": points, "lines": pd.DataFrame(lines)}, left)
    with right:
        # one legend for the page: the decision-boundary chart's (the same runs, the same colours)
        charts.series(charts.long_frame(loss, labels, column="loss"), "loss", "loss f(θ_t) (log)", labels,
                      height=220, changes=state["changes"], legend=False)
        charts.series(charts.long_frame(margin, labels, column="margin"), "margin",
                      "normalized margin min_i y_i a_iᵀθ_t / ‖θ_t‖ (> 0: separated)", labels, log=False, height=150,
                      legend=False)
        charts.series(charts.long_frame(accuracy, labels, column="accuracy"), "accuracy",
                      "training accuracy (◆: stays separated from here on)", labels, log=False, height=150,
                      markers=separation_markers(accuracy, labels), marker_title="stays separated from t",
                      legend=False)
    c1, c2 = st.columns(2)
    charts.series(charts.long_frame(grad_norm, labels, column="grad"), "grad", "gradient norm ‖∇f(θ_t)‖ (log)",
                  labels, height=200, container=c1, legend=False)
    if live.t:
        charts.series(charts.long_frame(r, labels, column="r", start_step=0), "r", "normalized step r_t (log; "
                      "r > 1 leaves the loss's convergence radius)", labels, height=200, container=c2, legend=False)


main()
