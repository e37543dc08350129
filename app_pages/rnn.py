"""RNN gradient clipping: the one-unit RNN's loss surface has a cliff where the gradient explodes; one
unclipped step there throws the parameters far away, a clipped step does not (Pascanu et al. 2013)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import streamlit as st
import torch

from app_pages import browser_playback, charts, ensemble, keys, rnn_vega, specs
from app_pages.browser_player import arrow_frame
from app_pages.controls import Control, Controls
from app_pages.live import Live
from app_pages.pins import Pins, step_clip_pins
from app_pages.player import playback
from app_pages.ui import THEORY, device, fmt, measure, page_clock, reproduce_expander
from steplab.rnn.cliff import (
    EXPLODING_GRAD_NORM,
    CliffProblem,
    cliff_surface,
    descend,
    exploded,
    random_wall_starts,
    valley_line,
    wall_line,
)
from steplab.rnn.experiments import SUCCESS_LOSS
from steplab.rnn.vanishing import vanishing_view
from steplab.trajectory import Trajectory

PAGE = "rnn"
BOX = (1.0, 8.0, -6.0, 1.0)  # w range, b range of the surface view
CONTROLS = [
    Control("w0", "start w (recurrent weight)", "float", 5.0, low=BOX[0], high=BOX[1], step=0.05),
    Control("b0", "start b (bias)", "float", -2.3, low=BOX[2], high=BOX[3], step=0.05),
    Control("eta", "step size η", "log", 1.0, low=0.01, high=5.0),
    Control("c", "clip threshold c", "log", 1.0, low=0.01, high=100.0),
    Control("steps", "steps", "int", 80, low=10, high=500, step=10),
    ensemble.control(PAGE),  # "starts": random starts for the success rate; range by device (ensemble.SIZES)
    Control("playback", "playback", "select", "browser", options=("browser", "server"),
            labels={"browser": "in the browser (the whole run sent once)",
                    "server": "on the server (a rerun per frame)"}),
]
SPECS = {spec.name: spec for spec in CONTROLS}


parse_pin, format_pin = step_clip_pins(SPECS, held_as=("eta", "c"))  # links write eta:c


def run_labels(runs: list[tuple[float, float | None]]) -> list[str]:
    """'1 · clipped …', '2 · unclipped …', '3 · pin 1: …' (numbered, so the colours follow the run order)."""
    names = ["clipped:", "unclipped:"] + [f"pin {i}:" for i in range(1, len(runs) - 1)]
    return [f"{r + 1} · {name} η = {eta:g}" + ("" if c is None else f", c = {c:g}")
            for r, (name, (eta, c)) in enumerate(zip(names, runs, strict=True))]


@st.cache_data(max_entries=4, show_spinner=False)
def surface() -> bytes:
    """log10 E_50 and ||∇E|| on a 90 x 90 (w, b) grid (one batched recursion), as Arrow."""
    w = torch.linspace(BOX[0], BOX[1], 90, dtype=torch.float64, device=device())
    b = torch.linspace(BOX[2], BOX[3], 90, dtype=torch.float64, device=device())
    loss, grad = cliff_surface(w, b)
    cells = charts.grid_cells(w.cpu().numpy(), b.cpu().numpy(), np.log10(loss.cpu().numpy() + 1e-8))
    cells["grad"] = grad.cpu().numpy().ravel()
    return charts.arrow(cells)


@st.cache_data(max_entries=4, show_spinner=False)
def guide_lines() -> bytes:
    w = torch.linspace(BOX[0], BOX[1], 200, dtype=torch.float64, device=THEORY)
    frames = [pd.DataFrame({"w": w.numpy(), "b": wall_line(w).numpy(), "line": "cliff wall (w > 4.26)"}),
              pd.DataFrame({"w": w.numpy(), "b": valley_line(w).numpy(), "line": "zero-loss valley"})]
    lines = pd.concat(frames, ignore_index=True)
    return charts.arrow(lines[np.isfinite(lines.b) & (lines.b >= BOX[2]) & (lines.b <= BOX[3])])


@st.cache_data(max_entries=4, show_spinner=False)
def surface_panel() -> dict:
    """The surface and its guide lines as the browser chart draws them (:func:`rnn_vega.static_surface`)."""
    return rnn_vega.static_surface(arrow_frame(surface()), arrow_frame(guide_lines()))


def reproduce_code(v: dict) -> str:
    return f"""import torch
from steplab.rnn.cliff import descend

start = torch.tensor([[{v['w0']:g}, {v['b0']:g}]], dtype=torch.float64)  # (w, b)
clipped = descend(start, lr={v['eta']:g}, clip_threshold={v['c']:g}, steps={v['steps']})
plain = descend(start, lr={v['eta']:g}, clip_threshold=None, steps={v['steps']})
for name, traj in (("clipped", clipped), ("unclipped", plain)):
    print(f"{{name}}: E = {{traj.loss[-1, 0].item():.4g}} at (w, b) = {{traj.final[0].tolist()}}, "
          f"largest ‖∇E‖ = {{traj.grad_norm[:, 0].max().item():.3g}}")"""


def clicks() -> list[tuple[str, object, tuple[float, float]]]:
    """The last click on the surface from each player's chart: (where it was kept, what identifies it, (w, b)).
    The server player's surface chart holds it as its point selection ``start``; the browser player's chart
    sends it with its transport report (``report["start"]``, :mod:`app_pages.rnn_vega`). Each is kept apart, so
    a stale one from the other player (the playback setting switched) neither returns nor hides a new one."""
    found = []
    event = st.session_state.get(keys.widget(PAGE, "surface"))
    points = (event or {}).get("selection", {}).get("start") or []
    if points:
        found.append(("last_click", points, (float(points[0]["x"]), float(points[0]["y"]))))
    report = browser_playback.reported(PAGE)
    start = report.get("start") if isinstance(report, dict) else None
    if isinstance(start, list) and len(start) == 2 and all(isinstance(x, int | float) for x in start):
        found.append(("last_report_click", report, (float(start[0]), float(start[1]))))
    return found


def apply_click() -> None:
    """A new click on the surface (from the last run's chart) becomes the start, before the sliders draw."""
    for kept, click, (w, b) in clicks():
        if click != st.session_state.get(keys.widget(PAGE, kept)):
            st.session_state[keys.widget(PAGE, kept)] = click
            st.session_state[keys.widget(PAGE, "w0")] = round(min(max(w, BOX[0]), BOX[1]) / 0.05) * 0.05
            st.session_state[keys.widget(PAGE, "b0")] = round(min(max(b, BOX[2]), BOX[3]) / 0.05) * 0.05


def main() -> None:
    st.title("RNN gradient clipping")
    st.caption("The one-unit RNN x_t = w σ(x_{t−1}) + b, 50 steps, loss E = (σ(x₅₀) − 0.7)². Past w = 1/σ′(0.5) ≈ 4.26 "
               "the surface has a cliff where ‖∇E‖ explodes like (0.235 w)⁵⁰; norm clipping keeps the step bounded "
               "(Pascanu, Mikolov & Bengio 2013).")
    clock = page_clock(PAGE)
    apply_click()
    ctl = Controls(PAGE, CONTROLS)
    ctl.show_warnings()
    v = {name: ctl(name) for name in ("w0", "b0", "eta", "c", "steps", "starts", "playback")}
    problem = CliffProblem()
    pins = Pins(ctl, parse_pin, format_pin)
    runs = [(v["eta"], v["c"]), (v["eta"], None)] + pins.values  # (η, c); c = None: unclipped
    labels = run_labels(runs)
    start_point = torch.tensor([[v["w0"], v["b0"]]], dtype=torch.float64, device=device()).repeat(len(runs), 1)
    starts = v["starts"]  # random starts beside the wall, each run clipped (current η, c) and unclipped (η)
    random_starts = random_wall_starts(starts, seed=0, device=device()) if starts else start_point[:0]

    def start() -> Live:
        live = Live.at(start_point, problem.loss(start_point))
        if starts:
            x0 = torch.cat([random_starts, random_starts])
            live.notes["starts x"] = x0
            live.notes["success"] = success_rates(problem.loss(x0)[None], starts)
        return live

    def lr_and_threshold(settings: list) -> tuple[torch.Tensor, torch.Tensor]:
        lr = torch.tensor([eta for eta, _ in settings], dtype=torch.float64, device=device())
        threshold = torch.tensor([math.inf if c is None else c for _, c in settings], dtype=torch.float64,
                                 device=device())  # inf: no clip
        return lr, threshold

    def step(live: Live, k: int) -> Trajectory:
        """k steps of every run in one descend() call, with per-run step size and clip threshold tensors; the
        random starts (clipped with the current η and c, then unclipped) in a second call, kept apart so that
        the shown runs round exactly as they do alone; only their success rates per step leave the device."""
        if starts:
            lr, threshold = lr_and_threshold([(v["eta"], v["c"])] * starts + [(v["eta"], None)] * starts)
            more = descend(live.notes["starts x"], lr=lr, clip_threshold=threshold, steps=k, record_every=None)
            live.notes["starts x"] = more.final
            live.notes["success"] = torch.cat([live.notes["success"], success_rates(more.loss[1:], starts)])
        lr, threshold = lr_and_threshold(runs)
        return descend(live.x, lr=lr, clip_threshold=threshold, steps=k)

    run = dict(steps=v["steps"], reset_key=(v["w0"], v["b0"], tuple(pins.values), starts),
               live_key=(v["eta"], v["c"], v["steps"]), start=start, advance=lambda live, k: live.advance(step, k))
    if v["playback"] == "browser":  # the whole run once per change; one chart plays it (app_pages.browser_playback)
        with measure(PAGE):
            played = browser_playback.playback(PAGE, **run)
        render(played.live, {"changes": played.changes, "played": played}, v, labels)
        player = {"live": played.live}
    else:
        player = playback(PAGE, **run, render=lambda live, state: render(live, state, v, labels))
    pins.buttons((v["eta"], v["c"]), what="setting (η, c)")
    reproduce_expander(reproduce_code(v), "Pinned runs: descend(start, lr=η, clip_threshold=c, ...) with their values.")
    live = player["live"]
    st.session_state[keys.result(PAGE)] = {"t": live.t, "loss": live.history.loss[-1].tolist(),
                                           "final": live.x.tolist(), "runs": runs, "labels": labels,
                                           "x": live.x, "starts": starts}
    if starts:
        success_section(live, starts, v, whole_run=v["playback"] == "browser")
    vanishing_section()
    ctl.finish(extra={"pins": pins.param()})
    clock.show()


def success_rates(loss: torch.Tensor, starts: int) -> torch.Tensor:
    """[T, 2] the share of the random starts with E < SUCCESS_LOSS at each row of ``loss`` ([T, 2 x starts]:
    the clipped runs, then the unclipped ones), computed on the loss's device, moved to the CPU."""
    return (loss < SUCCESS_LOSS).reshape(len(loss), 2, starts).double().mean(-1).cpu()


def success_section(live: Live, starts: int, v: dict, whole_run: bool = False) -> None:
    """The random starts' success rate at step t and over the steps (clipped vs unclipped, same η). With playback
    in the browser it is not animated: it shows the whole run and says so."""
    rates = live.notes["success"].numpy()  # [t + 1, 2]
    st.subheader(f"{starts:,} random starts beside the cliff wall" + (" (the whole run)" if whole_run else ""))
    if whole_run:
        st.caption(f"Not animated: the success at the end of the run (step {live.t}) and over all its steps.")
    when = "at the end of the run" if whole_run else "now"
    cols = st.columns(2)
    cols[0].metric(f"success {when}, clipped (c = {v['c']:g})", f"{rates[-1, 0]:.1%}",
                   help=f"share of the random starts with E < {SUCCESS_LOSS:g} at step {live.t}")
    cols[1].metric(f"success {when}, unclipped", f"{rates[-1, 1]:.1%}")
    names = [f"1 · clipped: η = {v['eta']:g}, c = {v['c']:g}", f"2 · unclipped: η = {v['eta']:g}"]
    charts.series(charts.long_frame(rates, names, column="success"), "success",
                  f"share of the {starts:,} random starts with E < {SUCCESS_LOSS:g} (w₀ ~ U(4.5, 6), b₀ = the "
                  "wall's b + U(0.05, 0.5))", names, log=False, height=200)


@st.cache_data(max_entries=1, show_spinner="training 6 small RNNs (a few seconds, once)…")
def vanishing_frame() -> pd.DataFrame:
    """‖∂E/∂h_k‖ against T − k for the three initialisations, MSGD-C and MSGD-CR (steplab.rnn.vanishing)."""
    view = vanishing_view(device=device())
    rows = [pd.DataFrame({"run": init.replace("_", " "), "method": method, "distance": view.distance.cpu().numpy(),
                          "norm": norms.cpu().numpy()}) for (init, method), norms in view.norms.items()]
    return pd.concat(rows, ignore_index=True)


def vanishing_section() -> None:
    """The other side of the paper: the back-propagated error vanishing with distance, and Ω holding it up."""
    st.subheader("The vanishing side: ‖∂E_T/∂h_k‖ against T − k")
    st.caption("A separate experiment, not animated (the sliders above do not change it). Temporal order at "
               "T = 50, 100 iterations of clipped SGD (MSGD-C, solid) or clipped SGD + Ω with "
               "α = 2 (MSGD-CR, dashed) from each of the paper's three initialisations (Sec. 4.1.1), then the mean "
               "norm of the error reaching step k from the loss at step T on fresh sequences. Without Ω both tanh "
               "curves fall more than 20-fold over the 50 steps; with Ω (eq. 10) they stay within a factor 10 of "
               "their start (claim rnn.omega_vanishing). The sigmoid RNN's error vanishes either way; norms that "
               "underflow to 0 in float32 are not drawn.")
    with measure(PAGE):
        frame = vanishing_frame()
    st.session_state[keys.result(PAGE)]["vanishing_rows"] = int((frame.norm > 0).sum())
    charts.series(frame, "norm", "‖∂E/∂h_k‖ (log) against the distance T − k", sorted(frame.run.unique()),
                  dash="method", height=220, x="distance")


def render(live: Live, state: dict, v: dict, labels: list[str]) -> None:
    history = live.history
    iterates = history.iterates.numpy()  # [t+1, R, 2]
    loss, grad_norm = history.loss.numpy(), history.grad_norm.numpy()
    jumps = np.linalg.norm(np.diff(iterates, axis=0), axis=-1) if live.t else np.zeros((1, len(labels)))
    raw_hit, used_hit = exploded(grad_norm).numpy(), exploded(history.clipped_grad_norm).numpy()  # [t, R]
    rows = []
    for r, label in enumerate(labels):
        w, b = iterates[-1, r]
        inside = BOX[0] <= w <= BOX[1] and BOX[2] <= b <= BOX[3]
        k = int(jumps[:, r].argmax())
        status = f"largest step {fmt(float(jumps[k, r]))} at step {k}" if live.t else "–"
        if live.t and used_hit[:, r].any():  # a step taken with an exploded gradient (unclipped, or c too large)
            k = int(np.argmax(used_hit[:, r]))
            status = (f"thrown off the cliff at step {k}: ‖∇E‖ = {fmt(float(grad_norm[k, r]))} > "
                      f"{EXPLODING_GRAD_NORM:g}, step length {fmt(float(jumps[k, r]))}; "
                      f"now at (w, b) = ({w:.3g}, {b:.3g})")
        elif live.t and raw_hit[:, r].any():
            k = int(np.argmax(raw_hit[:, r]))
            status = (f"met the cliff at step {k} (‖∇E‖ = {fmt(float(grad_norm[k, r]))} > {EXPLODING_GRAD_NORM:g}); "
                      f"clipping kept that step to length {fmt(float(jumps[k, r]))}")
        elif not inside:
            first_out = int(np.argmax(~((iterates[:, r, 0] >= BOX[0]) & (iterates[:, r, 0] <= BOX[1])
                                         & (iterates[:, r, 1] >= BOX[2]) & (iterates[:, r, 1] <= BOX[3]))))
            status = (f"left the plotted box at step {first_out - 1} with no exploded gradient (‖∇E‖ ≤ "
                      f"{EXPLODING_GRAD_NORM:g} on every step; that step's length "
                      f"{fmt(float(jumps[first_out - 1, r]))}); "
                      f"now at (w, b) = ({w:.3g}, {b:.3g})")
        rows.append({"run": label, "step": live.t, "loss E": fmt(float(loss[-1, r])),
                     "‖∇E‖ raw": fmt(float(grad_norm[-1, r])) if live.t else "–",
                     "‖∇E‖ clipped": fmt(float(history.clipped_grad_norm[-1, r])) if live.t else "–",
                     "status": status})
    played = state.get("played")
    whole_run = f"over the whole run (steps 0–{live.t}): " if played is not None else ""
    with st.container():  # however many messages, the charts below keep their place (no remount per redraw)
        for row in rows:
            if row["status"].startswith("thrown"):
                st.error(f"**{row['run']}** — {whole_run}{row['status']}", icon=":material/error:")
    st.dataframe(pd.DataFrame(rows), hide_index=True)
    if played is not None:  # playback in the browser: one chart, every panel following its step
        st.caption(f"The table and the messages above describe the whole run (step {live.t} at the end); ▶ and "
                   "the grey bar above the charts play and scrub it. A click on a surface cell starts the runs "
                   "there; η, c or the steps changed mid-way continue from the step the chart is at.")
        browser_playback.draw(PAGE, played, rnn_vega.spec(history, labels, BOX, surface_panel(), (v["w0"], v["b0"]),
                                                          played.changes, played.start_frame(), played.spec_id,
                                                          played.anchor.fps))
        return
    left, right = st.columns([3, 2])
    paths = charts.long_frame(loss, labels, column="loss",
                              extra={"w": iterates[..., 0], "b": iterates[..., 1]})
    start = pd.DataFrame({"w": [v["w0"]], "b": [v["b0"]], "what": ["start"]})
    event = charts.show(specs.surface_spec(BOX), {"cells": surface(), "guides": guide_lines(), "paths": paths,
                                                  "start": start},
                        left, on_select="rerun", selection_mode="start", key=keys.widget(PAGE, "surface"))
    points = (event or {}).get("selection", {}).get("start") or []
    if points and points != st.session_state.get(keys.widget(PAGE, "last_click")):
        st.rerun()  # the chart lives in the playback fragment: rerun the whole page so the sliders move
    with right:
        if live.t:
            frames = []
            for kind, values in (("raw", grad_norm), ("clipped", history.clipped_grad_norm.numpy())):
                frame = charts.long_frame(values, labels, column="norm")
                frame["kind"] = kind
                frames.append(frame)
            charts.series(pd.concat(frames, ignore_index=True), "norm", "gradient norm per step (log)", labels,
                          dash="kind", height=160, changes=state["changes"])
        charts.series(charts.long_frame(loss, labels, column="loss"), "loss",
                      "loss E₅₀ per step (log)", labels, height=140)


main()
