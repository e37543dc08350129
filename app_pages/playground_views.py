"""The playground's three views: contour with paths, eigenbasis errors, (eta, beta) stability map."""

from __future__ import annotations

import math

import altair as alt
import contourpy
import numpy as np
import pandas as pd
import streamlit as st
import torch

from app_pages import charts
from app_pages.charts import named, spec_cache
from steplab import dashboard as dash
from steplab import rates

BOXES = {"quadratic": (-2.5, 2.5, -2.5, 2.5), "rosenbrock": (-2.0, 2.0, -1.0, 3.0), "cosh": (-4.0, 4.0, -4.0, 4.0)}
TIP = dict(format=".4g")


def plot_box(name: str, x0: float, y0: float) -> tuple[float, float, float, float]:
    """The problem's default view, grown to contain the start point with a margin."""
    xmin, xmax, ymin, ymax = BOXES[name]
    return (min(xmin, x0 - 0.5), max(xmax, x0 + 0.5), min(ymin, y0 - 0.5), max(ymax, y0 + 0.5))


@st.cache_data(max_entries=64, show_spinner=False)
def contour_data(name: str, lam: tuple, rotation: float, box: tuple) -> tuple[bytes, bytes]:
    """Heat cells of log10 f and iso-lines (contourpy) on a 60 x 60 grid, as Arrow; cached per objective."""
    problem = dash.make_problem(name, lam, rotation)
    xs = torch.linspace(box[0], box[1], 60, dtype=torch.float64)
    ys = torch.linspace(box[2], box[3], 60, dtype=torch.float64)
    z = np.log10(dash.loss_grid(problem, xs, ys).numpy() + 1e-3)
    cells = charts.grid_cells(xs.numpy(), ys.numpy(), z)
    generator = contourpy.contour_generator(xs.numpy(), ys.numpy(), z)
    lines = []
    for level in np.linspace(z.min(), z.max(), 14)[1:-1]:
        for k, segment in enumerate(generator.lines(level)):
            lines.append(pd.DataFrame({"level": f"{level:.3f}:{k}", "order": np.arange(len(segment)),
                                       "x": segment[:, 0], "y": segment[:, 1]}))
    return charts.arrow(cells), charts.arrow(pd.concat(lines, ignore_index=True))


@spec_cache
def contour_spec(box: tuple) -> alt.LayerChart:
    xscale = alt.Scale(domain=[box[0], box[1]], nice=False, zero=False)
    yscale = alt.Scale(domain=[box[2], box[3]], nice=False, zero=False)
    heat = alt.Chart(named("cells")).mark_rect(opacity=0.55).encode(
        x=alt.X("x1:Q", scale=xscale, title="x"), x2=alt.X2("x2:Q"),
        y=alt.Y("y1:Q", scale=yscale, title="y"), y2=alt.Y2("y2:Q"),
        color=alt.Color("value:Q", scale=alt.Scale(scheme="greys"), legend=None))
    iso = alt.Chart(named("iso")).mark_line(color="white", strokeWidth=0.8, opacity=0.9).encode(
        x=alt.X("x:Q", scale=xscale), y=alt.Y("y:Q", scale=yscale), detail=alt.Detail("level:N"),
        order=alt.Order("order:Q"))
    enc = dict(x=alt.X("x:Q", scale=xscale), y=alt.Y("y:Q", scale=yscale), color=charts.run_color(),
               order=alt.Order("step:Q"),
               tooltip=[alt.Tooltip("run:N"), alt.Tooltip("step:Q"), alt.Tooltip("x:Q", format=".3f"),
                        alt.Tooltip("y:Q", format=".3f"), alt.Tooltip("loss:Q", **TIP)])
    path = alt.Chart(named("path")).mark_line(clip=True, strokeWidth=2).encode(**enc)
    enc["color"] = alt.Color("run:N", scale=alt.Scale(range=charts.RUN_COLORS), sort="ascending", legend=None)
    points = alt.Chart(named("path")).mark_circle(clip=True, size=28).encode(**enc)
    optimum = alt.Chart(named("optimum")).mark_point(shape="diamond", size=120, color="black", filled=True).encode(
        x=alt.X("x:Q", scale=xscale), y=alt.Y("y:Q", scale=yscale), tooltip=[alt.Tooltip("what:N")])
    return (heat + iso + path + points + optimum).properties(height=380, title="path on the loss landscape "
                                                                                "(grey: log f, ◆ minimum)")


def contour(problem, v: dict, iterates: np.ndarray, loss: np.ndarray, diverged_at, labels, container) -> None:
    """Contour of f with every run's path (steps after a divergence are dropped; the view never rescales)."""
    box = plot_box(v["problem"], v["x0"], v["y0"])
    lam = (min(v["lam1"], v["lam2"]), max(v["lam1"], v["lam2"]))
    cells, iso = contour_data(v["problem"], lam, v["rotation"], box)
    path = charts.long_frame(loss, labels, diverged_at=diverged_at, column="loss",
                             extra={"x": iterates[..., 0], "y": iterates[..., 1]})
    path = path[np.isfinite(path[["x", "y"]]).all(axis=1) & (path[["x", "y"]].abs() < 1e6).all(axis=1)]
    star = dash.minimizer(problem).numpy()
    optimum = pd.DataFrame({"x": [star[0]], "y": [star[1]], "what": ["minimum"]})
    charts.show(contour_spec(box), {"cells": cells, "iso": iso, "path": path, "optimum": optimum},
                container)


def eigen_errors(problem, iterates: np.ndarray, diverged_at, labels, changes, container) -> None:
    """|u_i^T (x_t - x*)| per eigen-direction i of the Hessian at x*, log scale."""
    eigenvalues, basis = dash.eigen_at_minimum(problem)
    z = np.abs((iterates - dash.minimizer(problem).numpy()) @ basis.numpy())  # [T, R, 2]
    frames = []
    for i in range(2):
        frame = charts.long_frame(z[:, :, i], labels, diverged_at=diverged_at, column="error")
        frame["direction"] = f"λ = {float(eigenvalues[i]):.3g}"
        frames.append(frame)
    charts.series(pd.concat(frames, ignore_index=True), "error", "error along each eigen-direction |uᵢᵀ(x_t − x*)|",
                  labels, dash="direction", height=380, changes=changes, container=container)


@st.cache_data(max_entries=64, show_spinner=False)
def stability_data(eigenvalues: tuple, eta_low: float, eta_high: float) -> tuple[dict, tuple]:
    """Heavy-ball rate on a 48 x 40 (eta, beta) grid (one batched closed-form call) and the curves."""
    lam_min, lam_max = eigenvalues
    etas = torch.logspace(math.log10(eta_low), math.log10(eta_high), 48, dtype=torch.float64)
    betas = torch.linspace(0.0, 0.98, 40, dtype=torch.float64)
    rate = dash.stability_map(list(eigenvalues), etas, betas).numpy()
    cells = charts.grid_cells(etas.numpy(), betas.numpy(), rate, log_x=True)
    edge_betas = np.linspace(0, 0.98, 50)
    edge = pd.DataFrame({"eta": 2 * (1 + edge_betas) / lam_max, "beta": edge_betas,
                         "curve": "stability edge η = 2(1+β)/λ_max"})
    eta_line = np.geomspace(eta_low, eta_high, 200)
    damping = []
    for name, lam in (("λ_min", lam_min), ("λ_max", lam_max)):
        beta_c = rates.critical_damping_beta(torch.tensor(eta_line), lam).numpy()
        keep = beta_c <= 0.98
        damping.append(pd.DataFrame({"eta": eta_line[keep], "beta": beta_c[keep],
                                     "curve": f"critical damping for {name} = {lam:.3g}"}))
    frames = {"stable": cells[cells.value < 1], "unstable": cells[cells.value >= 1], "edge": edge,
              "damping": pd.concat(damping, ignore_index=True)}
    frames = {name: charts.arrow(frame) for name, frame in frames.items()}
    return frames, (float(cells.x1.min()), float(cells.x2.max()))


@spec_cache
def stability_spec(x_domain: tuple) -> alt.LayerChart:
    xscale = alt.Scale(type="log", domain=list(x_domain), nice=False)
    yscale = alt.Scale(domain=[0, 1], nice=False, zero=False)
    cell = dict(x=alt.X("x1:Q", scale=xscale, title="step size η (log)"), x2=alt.X2("x2:Q"),
                y=alt.Y("y1:Q", scale=yscale, title="momentum β"), y2=alt.Y2("y2:Q"),
                tooltip=[alt.Tooltip("x:Q", title="η", format=".3g"), alt.Tooltip("y:Q", title="β", format=".3g"),
                         alt.Tooltip("value:Q", title="rate per step", **TIP)])
    stable = alt.Chart(named("stable")).mark_rect().encode(
        color=alt.Color("value:Q", title="rate", scale=alt.Scale(scheme="viridis", domain=[0, 1])), **cell)
    unstable = alt.Chart(named("unstable")).mark_rect(color="#eeeeee").encode(**cell)
    curve = dict(x=alt.X("eta:Q", scale=xscale), y=alt.Y("beta:Q", scale=yscale), tooltip=[alt.Tooltip("curve:N")])
    edge = alt.Chart(named("edge")).mark_line(color="#d62728", strokeWidth=2, clip=True).encode(**curve)
    damping = alt.Chart(named("damping")).mark_line(color="white", strokeDash=[5, 3], clip=True).encode(
        detail=alt.Detail("curve:N"), **curve)
    marker = alt.Chart(named("here")).mark_point(shape="cross", size=260, color="#ff2d2d", filled=True,
                                                 stroke="black", strokeWidth=1).encode(
        x=alt.X("eta:Q", scale=xscale), y=alt.Y("beta:Q", scale=yscale),
        tooltip=[alt.Tooltip("what:N"), alt.Tooltip("eta:Q", title="η"), alt.Tooltip("beta:Q", title="β"),
                 alt.Tooltip("rate:Q", **TIP)])
    return (unstable + stable + edge + damping + marker).properties(height=320)


def stability(problem, current: dash.RunConfig, container=None) -> None:
    eigenvalues, _ = dash.eigen_at_minimum(problem)
    lam = (float(eigenvalues[0]), float(eigenvalues[-1]))
    eta_low = float(f"{min(0.01 / lam[1], current.eta / 1.5):.3g}")
    eta_high = float(f"{max(5.0 / lam[1], current.eta * 1.5):.3g}")
    frames, domain = stability_data(lam, eta_low, eta_high)
    data = dict(frames)
    rate = float(rates.heavy_ball_rate(current.eta, current.beta, list(lam)))
    data["here"] = pd.DataFrame({"eta": [current.eta], "beta": [current.beta], "rate": [rate],
                                 "what": ["current setting"]})
    charts.show(stability_spec(domain), data, container)
