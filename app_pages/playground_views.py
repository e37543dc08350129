"""The playground's views: contour with paths, eigenbasis errors, (eta, beta) stability map, and the cloud of
noisy runs (a density image and a loss band, aggregated on the device by :mod:`app_pages.ensemble`)."""

from __future__ import annotations

import math

import contourpy
import numpy as np
import pandas as pd
import streamlit as st
import torch

from app_pages import charts, ensemble, specs
from app_pages.ui import THEORY, device, measure
from steplab import playground as dash
from steplab import rates
from steplab.problems import loss_grid

BOXES = {"quadratic": (-2.5, 2.5, -2.5, 2.5), "rosenbrock": (-2.0, 2.0, -1.0, 3.0), "cosh": (-4.0, 4.0, -4.0, 4.0)}


def plot_box(name: str, x0: float, y0: float) -> tuple[float, float, float, float]:
    """The problem's default view, grown to contain the start point with a margin."""
    xmin, xmax, ymin, ymax = BOXES[name]
    return (min(xmin, x0 - 0.5), max(xmax, x0 + 0.5), min(ymin, y0 - 0.5), max(ymax, y0 + 0.5))


@st.cache_data(max_entries=64, show_spinner=False)
def contour_data(name: str, lam: tuple, rotation: float, box: tuple) -> tuple[bytes, bytes]:
    """Heat cells of log10 f and iso-lines (contourpy) on a 90 x 90 grid, as Arrow; cached per objective."""
    problem = dash.make_problem(name, lam, rotation, device=device())
    xs = torch.linspace(box[0], box[1], 90, dtype=torch.float64, device=device())
    ys = torch.linspace(box[2], box[3], 90, dtype=torch.float64, device=device())
    z = np.log10(loss_grid(problem, xs, ys).cpu().numpy() + 1e-3)
    xs, ys = xs.cpu().numpy(), ys.cpu().numpy()
    cells = charts.grid_cells(xs, ys, z)
    generator = contourpy.contour_generator(xs, ys, z)
    lines = []
    for level in np.linspace(z.min(), z.max(), 14)[1:-1]:
        for k, segment in enumerate(generator.lines(level)):
            lines.append(pd.DataFrame({"level": f"{level:.3f}:{k}", "order": np.arange(len(segment)),
                                       "x": segment[:, 0], "y": segment[:, 1]}))
    return charts.arrow(cells), charts.arrow(pd.concat(lines, ignore_index=True))


def contour(problem, v: dict, iterates: np.ndarray, loss: np.ndarray, diverged_at, labels, container) -> None:
    """Contour of f with every run's path (steps after a divergence are dropped; the view never rescales)."""
    box = plot_box(v["problem"], v["x0"], v["y0"])
    lam = (min(v["lam1"], v["lam2"]), max(v["lam1"], v["lam2"]))
    cells, iso = contour_data(v["problem"], lam, v["rotation"], charts.surround(box))  # the equal-aspect view
    path = charts.long_frame(loss, labels, diverged_at=diverged_at, column="loss",
                             extra={"x": iterates[..., 0], "y": iterates[..., 1]})
    path = path[np.isfinite(path[["x", "y"]]).all(axis=1) & (path[["x", "y"]].abs() < 1e6).all(axis=1)]
    star = problem.minimizer.cpu().numpy()
    optimum = pd.DataFrame({"x": [star[0]], "y": [star[1]], "what": ["minimum"]})
    charts.show(specs.contour_spec(box), {"cells": cells, "iso": iso, "path": path, "optimum": optimum},
                container)


def eigen_errors(problem, iterates: np.ndarray, diverged_at, labels, changes, container) -> None:
    """|u_i^T (x_t - x*)| per eigen-direction i of the Hessian at x*, log scale."""
    eigenvalues, basis = (value.cpu() for value in problem.eigen_at_minimum())
    z = np.abs((iterates - problem.minimizer.cpu().numpy()) @ basis.numpy())  # [T, R, 2]
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
    etas = torch.logspace(math.log10(eta_low), math.log10(eta_high), 48, dtype=torch.float64, device=THEORY)
    betas = torch.linspace(0.0, 0.98, 40, dtype=torch.float64, device=THEORY)
    rate = rates.stability_map(list(eigenvalues), etas, betas).numpy()
    cells = charts.grid_cells(etas.numpy(), betas.numpy(), rate, log_x=True)
    edge_betas = np.linspace(0, 0.98, 50)
    edge = pd.DataFrame({"eta": 2 * (1 + edge_betas) / lam_max, "beta": edge_betas,
                         "curve": "stability edge η = 2(1+β)/λ_max"})
    eta_line = np.geomspace(eta_low, eta_high, 200)
    damping = []
    for name, lam in (("λ_min", lam_min), ("λ_max", lam_max)):
        beta_c = rates.critical_damping_beta(torch.tensor(eta_line, device=THEORY), lam).numpy()
        keep = (beta_c <= 0.98) & (eta_line < 2 * (1 + beta_c) / lam_max)  # drawn only where heavy ball is stable
        damping.append(pd.DataFrame({"eta": eta_line[keep], "beta": beta_c[keep],
                                     "curve": f"critical damping for {name} = {lam:.3g}"}))
    frames = {"stable": cells[cells.value < 1], "unstable": cells[cells.value >= 1], "edge": edge,
              "damping": pd.concat(damping, ignore_index=True)}
    frames = {name: charts.arrow(frame) for name, frame in frames.items()}
    return frames, (float(cells.x1.min()), float(cells.x2.max()))


def stability(problem, configs: list[dash.RunConfig], labels: list[str], container=None) -> None:
    """The (η, β) map with a "+" per run in its colour: the current setting (configs[0]) and the pins."""
    eigenvalues, _ = problem.eigen_at_minimum()
    lam = (float(eigenvalues[0]), float(eigenvalues[-1]))
    etas = [config.eta for config in configs]
    eta_low = float(f"{min(0.01 / lam[1], min(etas) / 1.5):.3g}")
    eta_high = float(f"{max(5.0 / lam[1], max(etas) * 1.5):.3g}")
    frames, domain = stability_data(lam, eta_low, eta_high)
    data = dict(frames)
    data["here"] = pd.DataFrame({"eta": etas, "beta": [config.beta for config in configs], "run": labels,
                                 "rate": [float(rates.heavy_ball_rate(config.eta, config.beta, list(lam)))
                                          for config in configs]})
    charts.show(specs.stability_spec(domain), data, container)


def cloud(page: str, members: ensemble.Cloud, v: dict, now: np.ndarray, loss_now: np.ndarray, labels,
          when: str = "now") -> None:
    """The noisy runs of the current setting: where they are at step t (a density image on the contour's box,
    with the shown runs' current points; ``when`` names that step in the title) and their loss's 10-50-90% band
    over t beside run 0's loss."""
    box = plot_box(v["problem"], v["x0"], v["y0"])
    with measure(page):
        cells = ensemble.density_cells(members.x, box)
    members_in_box = int(cells["count"].sum())
    members.drawn = {"members": members.members, "in_box": members_in_box, "cells": len(cells)}
    left, right = st.columns(2)
    points = pd.DataFrame({"x": now[:, 0], "y": now[:, 1], "run": list(labels)})
    points = points[np.isfinite(points[["x", "y"]]).all(axis=1)]
    title = (f"{members.members:,} noisy runs of the current setting {when} ({members_in_box:,} in view; "
             "✚: the shown runs)")
    charts.show(ensemble.density_spec(box, title, ("x", "y")), {"cells": cells, "now": points}, left)
    line = pd.DataFrame({"step": np.arange(len(loss_now)), "value": loss_now, "run": labels[0]})
    line = charts.finite(line, "value", positive=True)
    charts.show(ensemble.band_spec("loss of the noisy runs: 10–90% band and median (log)"),
                {"band": members.band_frame(), "line": line}, right)

