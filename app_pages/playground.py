"""Playground: GD / heavy ball / Nesterov (optionally clipped, optionally noisy) on 2-D objectives."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st
import torch

from app_pages import browser_playback, charts, ensemble, keys, playground_vega
from app_pages import playground_views as views
from app_pages.controls import Control, Controls
from app_pages.live import Live
from app_pages.pins import Pins
from app_pages.player import playback
from app_pages.ui import device, fmt, measure, page_clock, reproduce_expander
from steplab import playground as dash
from steplab import rates
from steplab.device import make_generator
from steplab.trajectory import run

PAGE = "playground"
CONTROLS = [
    Control("problem", "Objective", "select", "quadratic", options=dash.PROBLEMS,
            labels={"quadratic": "2-D quadratic", "rosenbrock": "Rosenbrock", "cosh": "cosh(x) + cosh(y) − 2"}),
    Control("lam1", "λ₁ (small eigenvalue)", "log", 1.0, low=0.01, high=10.0),
    Control("lam2", "λ₂ (large eigenvalue)", "log", 10.0, low=0.1, high=100.0),
    Control("rotation", "rotation of the eigenbasis (degrees)", "float", 30.0, low=0.0, high=180.0, step=5.0),
    Control("method", "Method", "select", "gd", options=dash.METHODS, labels=dash.METHOD_LABELS),
    Control("eta", "step size η", "log", 0.15, low=1e-4, high=2.0),
    Control("beta", "momentum β", "float", 0.5, low=0.0, high=0.99, step=0.01),
    Control("clip", "clip the gradient norm", "toggle", False),
    Control("c", "clip threshold c", "log", 1.0, low=0.01, high=100.0),
    Control("noise", "gradient noise σ (0 = exact gradients)", "float", 0.0, low=0.0, high=5.0, step=0.1),
    ensemble.control(PAGE),  # "ensemble": noisy runs of the current setting; range by device (ensemble.SIZES)
    Control("steps", "steps", "int", 60, low=10, high=500, step=10),
    Control("seed", "seed", "int", 0, low=0, high=99),
    Control("x0", "start x", "float", -1.8, low=-4.0, high=4.0, step=0.1),
    Control("y0", "start y", "float", 1.2, low=-4.0, high=4.0, step=0.1),
    Control("playback", "playback", "select", "browser", options=("browser", "server"),
            labels={"browser": "in the browser (the whole run sent once)",
                    "server": "on the server (a rerun per frame)"}),
]


def parse_pin(text: str) -> dash.RunConfig:
    """``'heavy_ball:0.1:0.9:none'`` -> RunConfig (method:eta:beta:clip)."""
    try:
        method, eta, beta, clip = text.split(":")
        eta, beta = float(eta), float(beta)
        threshold = None if clip == "none" else float(clip)
    except ValueError:
        raise ValueError(f"'{text}' is not method:eta:beta:clip") from None
    if method not in dash.METHODS:
        raise ValueError(f"unknown method {method!r}")
    if not (0 < eta <= 10 and 0 <= beta < 1):
        raise ValueError("eta must be in (0, 10] and beta in [0, 1)")
    if threshold is not None and not 0 < threshold < 1e6:
        raise ValueError("clip must be 'none' or a positive number")
    return dash.RunConfig(method, eta, beta, threshold)


def format_pin(p: dash.RunConfig) -> str:
    return f"{p.method}:{p.eta:g}:{p.beta:g}:{'none' if p.clip_threshold is None else f'{p.clip_threshold:g}'}"


def reproduce_code(v: dict, config: dash.RunConfig) -> str:
    problem = {"quadratic": f"Quadratic([{v['lam1']:g}, {v['lam2']:g}], rotation=math.radians({v['rotation']:g}))",
               "rosenbrock": "Rosenbrock()", "cosh": "Cosh(dim=2)"}[v["problem"]]
    imports = {"quadratic": "Quadratic", "rosenbrock": "Rosenbrock", "cosh": "Cosh"}[v["problem"]]
    if v["noise"] > 0:
        problem = f"Noisy({problem}, GaussianNoise({v['noise']:g}))"
        imports += ", Noisy, GaussianNoise"
    clip = "None" if config.clip_threshold is None else f"{config.clip_threshold:g}"
    return f"""import math
import torch
from steplab.problems import {imports}
from steplab.transforms import optimizer
from steplab.trajectory import run

problem = {problem}
transform = optimizer(lr={config.eta:g}, momentum={config.beta if config.method != 'gd' else 0:g}, \
method="{config.method}", clip_threshold={clip})
x0 = torch.tensor([[{v['x0']:g}, {v['y0']:g}]], dtype=torch.float64)
traj = run(problem, transform, x0, steps={v['steps']}, seed={v['seed']})
print(f"loss after {{traj.steps}} steps: {{traj.loss[-1, 0].item():.6g}}")
print(traj.divergence_message(0))"""


def main() -> None:
    st.title("Playground")
    st.caption("Step size, momentum and clipping on 2-D objectives: the path, each eigen-direction's error, and "
               "where (η, β) converges.")
    clock = page_clock(PAGE)
    ctl = Controls(PAGE, CONTROLS)
    ctl.show_warnings()
    st.sidebar.header("Objective")
    v = {"problem": ctl("problem")}
    quadratic = v["problem"] == "quadratic"
    for name in ("lam1", "lam2", "rotation"):
        v[name] = ctl(name, disabled=not quadratic)
    st.sidebar.header("Optimizer")
    v["method"] = ctl("method")
    v["eta"] = ctl("eta")
    v["beta"] = ctl("beta", disabled=v["method"] == "gd")
    v["clip"] = ctl("clip")
    v["c"] = ctl("c", disabled=not v["clip"])
    v["noise"] = ctl("noise")
    v["ensemble"] = ctl("ensemble", disabled=v["noise"] == 0)
    members = v["ensemble"] if v["noise"] > 0 else 0  # without noise every member would follow the same path
    st.sidebar.header("Run")
    for name in ("steps", "seed", "x0", "y0", "playback"):
        v[name] = ctl(name)

    pins = Pins(ctl, parse_pin, format_pin)
    current = dash.RunConfig(v["method"], v["eta"], v["beta"] if v["method"] != "gd" else 0.0,
                             v["c"] if v["clip"] else None)
    configs = [current] + pins.values

    lam = (min(v["lam1"], v["lam2"]), max(v["lam1"], v["lam2"]))
    if quadratic and v["lam1"] > v["lam2"]:  # said, not swapped silently
        st.container().warning(f"λ₁ = {v['lam1']:g} is larger than λ₂ = {v['lam2']:g}: the quadratic takes its "
                               f"eigenvalues sorted, λ = ({lam[0]:g}, {lam[1]:g}).", icon=":material/swap_vert:")
    else:
        st.container()  # the same place held empty: the elements below keep their place
    problem = dash.make_problem(v["problem"], lam, v["rotation"], v["noise"], device=device())
    x0 = torch.tensor([[v["x0"], v["y0"]]], dtype=torch.float64, device=device()).repeat(len(configs), 1)

    cloud_problem = dash.make_problem(v["problem"], lam, v["rotation"], v["noise"], common_noise=False,
                                      device=device()) if members else None  # independent draws per member

    def start() -> Live:
        live = Live.at(x0, problem.loss(x0), generator=make_generator(v["seed"], device()))
        if members:
            cloud_x0 = x0[:1].repeat(members, 1)
            live.notes["cloud"] = ensemble.Cloud.at(cloud_x0, cloud_problem.loss(cloud_x0),
                                                    make_generator(v["seed"] + 1, device()))
        return live

    def step(live: Live, k: int):
        return run(problem, dash.overlay_transform(configs, device()), live.x, k, generator=live.generator,
                   state=live.state, seed=None)

    def advance(live: Live, k: int) -> Live:
        before = live.history.diverged_at.clone()
        live.advance(step, k)
        cloud = live.notes.get("cloud")
        if cloud is not None:  # the members follow the current setting, each with its own noise
            cloud.advance(run(cloud_problem, dash.overlay_transform([current] * cloud.members, device()), cloud.x,
                              k, generator=cloud.generator, state=cloud.state, seed=None))
        for r in (before.lt(0) & live.history.diverged_at.ge(0)).nonzero().flatten().tolist():
            last = live.history.iterates[max(int(live.history.diverged_at[r]) - 1, 0), r].to(live.x.device)
            live.notes[r] = dash.divergence_reason(problem, configs[r], last)  # the bound at the time it diverged
        return live

    labels = [f"{'now' if i == 0 else f'pin {i}'}: {c.label()}" for i, c in enumerate(configs)]
    reset_key = (v["problem"], lam, v["rotation"], v["noise"], v["seed"], v["x0"], v["y0"], tuple(configs[1:]),
                 members)
    if v["playback"] == "browser":  # the whole run once per change; one chart plays it (app_pages.browser_playback)
        with measure(PAGE):
            played = browser_playback.playback(PAGE, steps=v["steps"], reset_key=reset_key,
                                               live_key=(current, v["steps"]), start=start, advance=advance)
        render(played.live, {"changes": played.changes, "played": played}, v, problem, configs, labels)
        player = {"live": played.live}
    else:
        player = playback(PAGE, steps=v["steps"], reset_key=reset_key, live_key=(current, v["steps"]), start=start,
                          advance=advance, render=lambda live, state: render(live, state, v, problem, configs, labels))

    pins.buttons(current)

    st.subheader("Where (η, β) converges")
    views.stability(problem, configs, labels)
    st.caption("Heavy-ball convergence rate max_i |root| on the quadratic model at the minimum (darker = faster; "
               "light grey = diverges). Red line: stability edge η = 2(1+β)/λ_max, which is 2/λ_max at β = 0; "
               "dashed: critical damping β = (1 − √(ηλ))² for λ_min and λ_max, inside the stable area; +: the current "
               "setting and the pinned ones, in their runs' colours."
               + (" (The map is heavy ball's; Nesterov's stable region differs.)" if current.method == "nesterov"
                  else " Off the quadratic, λ are the Hessian's eigenvalues at the minimum."
                  if v["problem"] != "quadratic" else ""))
    reproduce_expander(reproduce_code(v, current),
                       "They recompute the run from its start; changes made mid-run are not included.")
    live = player["live"]
    st.session_state[keys.result(PAGE)] = {"t": live.t, "loss": float(live.history.loss[-1, 0]),
                                           "diverged_at": int(live.history.diverged_at[0]), "x": live.x}
    ctl.finish(extra={"pins": pins.param()})
    clock.show()


def render(live: Live, state: dict, v: dict, problem, configs, labels) -> None:
    """The live part: readouts, path on the contour, eigenbasis errors, loss and gradient norms."""
    t, history = live.t, live.history
    iterates = history.iterates.numpy()  # [t + 1, R, 2]
    loss = history.loss.numpy()  # [t + 1, R]
    diverged_at = history.diverged_at.numpy()
    rows = []
    eigenvalues = problem.eigen_at_minimum()[0].cpu()
    measured_rates = dash.measured_rates(iterates, problem.minimizer.cpu(), diverged_at).tolist()
    for r, label in enumerate(labels):
        d = diverged_at[r]
        config = configs[r]
        theory = (float(rates.heavy_ball_rate(config.eta, config.beta, eigenvalues)) if config.method != "nesterov"
                  else None)
        measured = measured_rates[r]
        growing = "" if d >= 0 else dash.growth_note(problem, config, history.loss[:, r],
                                                    history.iterates[-1, r].to(live.x.device))
        status = (f"diverged at step {d}: {live.notes.get(r, '')}" if d >= 0 else growing if growing
                  else "running" if t < v["steps"] else "finished")
        rows.append({"run": label, "step": t, "loss": fmt(float(loss[-1, r])),
                     "‖g‖ raw": fmt(float(history.grad_norm[-1, r])) if t else "–",
                     "‖g‖ clipped": fmt(float(history.clipped_grad_norm[-1, r])) if t else "–",
                     "rate/step measured": f"{measured:.4f}" if measured is not None and np.isfinite(measured)
                     else "–",
                     "rate/step theory": f"{theory:.4f}" if theory is not None else "–",
                     "status": status})
    with st.container():  # however many messages, the elements below keep their place (no remount per redraw)
        for r, row in enumerate(rows):
            if diverged_at[r] >= 0:
                st.error(f"**{row['run']}** — {row['status']}", icon=":material/error:")
            elif row["status"].startswith("diverging"):  # growing geometrically, not yet past the loss cut-off
                st.warning(f"**{row['run']}** — {row['status']}", icon=":material/trending_up:")
    st.dataframe(pd.DataFrame(rows), hide_index=True)

    played = state.get("played")
    if played is not None:  # playback in the browser: one chart, every panel following its step
        st.caption(f"The table shows the whole run (step {t}); ▶ and the grey bar above the charts play and scrub "
                   "it, and a setting changed mid-way continues from the step the chart is at.")
        browser_playback.draw(PAGE, played, playground_vega.spec(problem, v, history, labels, played.changes,
                                                                 played.start_frame(), played.spec_id,
                                                                 played.anchor.fps))
    else:
        left, right = st.columns(2)
        views.contour(problem, v, iterates, loss, diverged_at, labels, left)
        views.eigen_errors(problem, iterates, diverged_at, labels, state["changes"], right)
    if live.notes.get("cloud") is not None:
        views.cloud(PAGE, live.notes["cloud"], v, iterates[-1], loss[:, 0], labels,
                    when="now" if played is None else f"at step {t}, the end of the run")
    if played is None:
        c1, c2 = st.columns(2)
        charts.series(charts.long_frame(loss, labels, diverged_at=diverged_at, column="loss"), "loss",
                      "loss f(x_t) (log scale)", labels, changes=state["changes"], container=c1)
        if t:
            frames = []
            for kind, values in (("raw", history.grad_norm), ("clipped", history.clipped_grad_norm)):
                frame = charts.long_frame(values.numpy(), labels, start_step=0, diverged_at=diverged_at,
                                          column="norm")
                frame["kind"] = kind
                frames.append(frame)
            charts.series(pd.concat(frames, ignore_index=True), "norm", "gradient norm ‖g_t‖: raw vs clipped (log)",
                          labels, dash="kind", container=c2)


main()
