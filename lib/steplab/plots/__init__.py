"""Matplotlib helpers shared by the notebooks: one style, labelled axes, log scales for rates.

Plotting lives here and in the app only; the maths modules never plot or print, and the plots
never compute: they take precomputed tensors (a grid of losses from ``problems.loss_grid``, a
:class:`~steplab.trajectory.Trajectory`) and draw them. Family-specific figures live in submodules
(``steplab.plots.clipping`` ...).

**Figure rules** (checked by ``tests/test_figures.py``): every figure comes from :func:`subplots`, which caps its
width at ``MAX_WIDTH`` = 9.6 in, i.e. 960 px at 100 dpi, under JupyterLab's ~968-px output width, so a figure is
never shrunk on screen and its ``MIN_FONT`` = 9-pt text stays 9 pt; legends use at least that size, are placed
where they do not cover data (:func:`legend` with ``outside=True`` puts one below its axes), and are never empty;
one colour means one thing in a figure; images carry a colour bar.
"""

from __future__ import annotations

import numpy as np
import torch

from steplab.optional import require

mpl = require("matplotlib", "steplab.plots")
plt = require("matplotlib.pyplot", "steplab.plots")

COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
MAX_WIDTH = 9.6  # inches: 960 px at 100 dpi, under JupyterLab's ~968-px output width (no shrinking on screen)
MIN_FONT = 9  # points: the smallest text in any figure (legends, annotations, tick labels)

STYLE = {
    "figure.figsize": (6.4, 4.0),
    "figure.dpi": 100,
    "font.size": 10,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "xtick.labelsize": MIN_FONT,
    "ytick.labelsize": MIN_FONT,
    "legend.fontsize": MIN_FONT,
    "legend.title_fontsize": MIN_FONT,
    "legend.frameon": False,
    "figure.titlesize": 12,
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
        legend(ax)
    return ax


def curves(ax, values, labels=None, ylabel: str = "loss", xlabel: str = "step t", log: bool = True,
           diverged_at=None, colors=None, linestyles=None, outside: bool = False):
    """Plot ``values`` [T, runs] against t; log y by default; cut each run at its divergence step.

    ``colors`` / ``linestyles``: one per run (default: the style's colours in order, solid), so that a run keeps
    its colour from another panel; ``outside``: the legend below the axes (:func:`legend`)."""
    values = to_numpy(values)
    t = np.arange(values.shape[0])
    for r in range(values.shape[1]):
        stop = int(diverged_at[r]) if diverged_at is not None else -1
        end = stop + 1 if stop >= 0 else len(t)
        y = values[:end, r]
        if log:
            y = np.where(y > 0, y, np.nan)
        color = COLORS[r % len(COLORS)] if colors is None else colors[r]
        ax.plot(t[:end], y, label=None if labels is None else labels[r], color=color,
                ls="-" if linestyles is None else linestyles[r])
        if stop >= 0:
            ax.plot(t[stop], y[-1] if np.isfinite(y[-1]) else np.nanmax(y), "x", color=color, ms=8, mew=2)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if labels is not None:
        legend(ax, outside=outside)
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
    legend(ax)
    return ax


def figure_size(ncols: int = 1, nrows: int = 1, width: float = 4.6, height: float = 3.8) -> tuple[float, float]:
    """(width, height) in inches of an ``nrows`` x ``ncols`` grid of ``width`` x ``height`` panels, scaled down to
    at most ``MAX_WIDTH`` wide (the panel height shrinks less, to at most 80% of its own: short panels crowd)."""
    total = width * ncols
    shrink = min(1.0, MAX_WIDTH / total)
    return total * shrink, height * nrows * max(shrink, 0.8)


def subplots(ncols: int = 1, nrows: int = 1, width: float = 4.6, height: float = 3.8, **kwargs):
    """``plt.subplots`` with the steplab style and a size scaled to the grid, never wider than ``MAX_WIDTH``
    (:func:`figure_size`); ``axes`` is always 2-D ``[nrows, ncols]``."""
    use_style()
    return plt.subplots(nrows, ncols, figsize=figure_size(ncols, nrows, width, height), squeeze=False, **kwargs)


def legend(ax, outside: bool = False, ncol: int | None = None, also=(), **kwargs):
    """A legend of ``ax``'s labelled artists (and those of the axes in ``also``, e.g. a twin) at the style's size,
    or none when nothing is labelled (no warning).

    ``outside=True`` puts it below the axes, under the x label, where it cannot cover data, in as many columns
    (at most 4) as fit the figure's width (one panel's width when the figure has several); otherwise
    matplotlib's ``loc="best"`` unless ``loc`` is given.
    """
    handles, labels = ax.get_legend_handles_labels()
    for other in also:
        more_handles, more_labels = other.get_legend_handles_labels()
        handles, labels = handles + more_handles, labels + more_labels
    if not handles:
        return None
    if outside:
        fig = ax.figure
        below = mpl.transforms.ScaledTranslation(0, -0.42, fig.dpi_scale_trans)  # clear of ticks and x label
        panels = [a for a in fig.axes if not hasattr(a, "_colorbar")]
        room = fig.get_size_inches()[0] * (0.95 if len(panels) == 1 else ax.get_position().width)
        entry = 0.07 * max(len(label) for label in labels) + 0.5  # inches per column at 9 pt: text + handle
        columns = ncol or max(1, min(len(handles), 4, int(room // entry)))
        kwargs = {"loc": "upper center", "bbox_to_anchor": (0.5, 0.0), "bbox_transform": ax.transAxes + below,
                  "ncol": columns} | kwargs
        _make_room_below(ax, rows=-(-len(handles) // kwargs["ncol"]))
    elif ncol is not None:
        kwargs["ncol"] = ncol
    return ax.legend(handles, labels, **kwargs)


def _make_room_below(ax, rows: int) -> None:
    """Grow ``ax``'s figure by the height of a legend of ``rows`` rows below ``ax`` (once per row of panels: the
    tallest legend of a row counts), so that ``tight_layout`` does not squash the panels to fit it."""
    fig = ax.figure
    spec = ax.get_subplotspec()
    row = spec.rowspan.start if spec is not None else 0
    needed = rows * MIN_FONT * 1.6 / 72 + 0.25  # inches: 9-pt rows with spacing, and the frame's padding
    room = fig.__dict__.setdefault("_steplab_legend_room", {})
    extra = needed - room.get(row, 0.0)
    if extra > 0:
        room[row] = needed
        width, height = fig.get_size_inches()
        fig.set_size_inches(width, height + extra)
