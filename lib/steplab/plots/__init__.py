"""Matplotlib helpers shared by the notebooks: one style, labelled axes, log scales for rates.

Plotting lives here and in the app only; the maths modules never plot or print, and the plots
never compute: they take precomputed tensors (a grid of losses from ``problems.loss_grid``, a
:class:`~steplab.trajectory.Trajectory`) and draw them. Family-specific figures live in submodules
(``steplab.plots.clipping`` ...).
"""

from __future__ import annotations

import numpy as np
import torch

from steplab.optional import require

mpl = require("matplotlib", "steplab.plots")
plt = require("matplotlib.pyplot", "steplab.plots")

COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]

STYLE = {
    "figure.figsize": (6.4, 4.0),
    "figure.dpi": 100,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "axes.prop_cycle": mpl.cycler(color=COLORS),
}


def use_style() -> None:
    """Apply steplab's matplotlib style (call once at the top of a notebook)."""
    mpl.rcParams.update(STYLE)


def to_numpy(x) -> np.ndarray:
    """A tensor (any device, detached) or array-like as a NumPy array."""
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def contour(ax, xs, ys, values, levels: int = 30, log_levels: bool = True):
    """Line contours of precomputed ``values`` [len(ys), len(xs)] (e.g. ``problems.loss_grid``) on ``ax``.

    ``log_levels``: levels spaced geometrically from the smallest positive value (at least 1e-6) to the largest.
    """
    values = to_numpy(values)
    grid_x, grid_y = np.meshgrid(to_numpy(xs), to_numpy(ys), indexing="xy")
    if log_levels:
        low = max(float(np.nanmin(values[values > 0])) if (values > 0).any() else 1e-3, 1e-6)
        lv = np.geomspace(low, float(np.nanmax(values)), levels)
    else:
        lv = levels
    ax.contour(grid_x, grid_y, values, levels=lv, cmap="Greys", linewidths=0.6, alpha=0.7)
    ax.set_xlim(float(xs[0]), float(xs[-1]))
    ax.set_ylim(float(ys[0]), float(ys[-1]))
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    return ax


def paths(ax, trajectory, labels=None, runs=None, marker: str = "o"):
    """Draw the recorded 2-D iterates of ``runs`` (default: all) on ``ax``, stopping at divergence."""
    iterates = to_numpy(trajectory.iterates)
    steps = to_numpy(trajectory.recorded_steps)
    runs = range(iterates.shape[1]) if runs is None else runs
    for k, r in enumerate(runs):
        stop = int(trajectory.diverged_at[r])
        keep = steps <= stop if stop >= 0 else slice(None)
        label = labels[k] if labels is not None else None
        ax.plot(iterates[keep, r, 0], iterates[keep, r, 1], marker=marker, ms=3, lw=1.2, label=label,
                color=COLORS[k % len(COLORS)])
    if labels is not None:
        ax.legend()
    return ax


def curves(ax, values, labels=None, ylabel: str = "loss", xlabel: str = "step t", log: bool = True,
           diverged_at=None):
    """Plot ``values`` [T, runs] against t; log y by default; cut each run at its divergence step."""
    values = to_numpy(values)
    t = np.arange(values.shape[0])
    for r in range(values.shape[1]):
        stop = int(diverged_at[r]) if diverged_at is not None else -1
        end = stop + 1 if stop >= 0 else len(t)
        y = values[:end, r]
        if log:
            y = np.where(y > 0, y, np.nan)
        ax.plot(t[:end], y, label=None if labels is None else labels[r], color=COLORS[r % len(COLORS)])
        if stop >= 0:
            ax.plot(t[stop], y[-1] if np.isfinite(y[-1]) else np.nanmax(y), "x", color=COLORS[r % len(COLORS)],
                    ms=8, mew=2)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if labels is not None:
        ax.legend()
    return ax


def sweep(ax, x, ys: dict, xlabel: str, ylabel: str, logx: bool = True, logy: bool = False,
          styles: dict | None = None):
    """Plot several named curves against a swept parameter ``x`` (theory vs measured, say)."""
    x = to_numpy(x)
    for k, (name, y) in enumerate(ys.items()):
        style = (styles or {}).get(name, {})
        ax.plot(x, to_numpy(y), label=name, **({"color": COLORS[k % len(COLORS)]} | style))
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend()
    return ax


def subplots(ncols: int = 1, nrows: int = 1, width: float = 4.6, height: float = 3.8, **kwargs):
    """``plt.subplots`` with the steplab style and a size scaled to the grid."""
    use_style()
    return plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False, **kwargs)
