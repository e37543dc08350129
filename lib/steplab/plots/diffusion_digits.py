"""Figures for the digits denoiser (Wizadwongsa et al. 2024, Fig. 1 redone on 8×8 digits): sample grids, metrics.

Each function draws arrays computed in :mod:`steplab.diffusion.digits_experiments`. Pixels are drawn on the model
scale [−1, 1] (−1 = background, white); values beyond ±(1 + margin) — the out-of-range pixels the metric
counts — are drawn in colour (``OVER``/``UNDER``), so an artifact is visible as a red or blue speck.
"""

from __future__ import annotations

import numpy as np

from steplab.plots import MIN_FONT, mpl, plt, to_numpy

OVER, UNDER = "#d62728", "#1f77b4"  # beyond +(1 + margin): red; below −(1 + margin): blue
SIDE = 8


def _cmap():
    # NaN (a diverged pixel) is drawn like an over-range one
    return mpl.colormaps["gray_r"].with_extremes(over=OVER, under=UNDER, bad=OVER)


def mosaic(images, columns: int = 5) -> np.ndarray:
    """Tile ``images`` [K, 64] (or [K, 8, 8]) into one array, ``columns`` per row, with a 1-pixel gap between tiles
    filled with −1 (background, white), so the tiles stay apart without adding out-of-range pixels."""
    images = to_numpy(images).reshape(-1, SIDE, SIDE)
    rows = -(-len(images) // columns)
    canvas = np.full((rows * (SIDE + 1) - 1, columns * (SIDE + 1) - 1), -1.0)
    for k, image in enumerate(images):
        r, c = divmod(k, columns)
        canvas[r * (SIDE + 1): r * (SIDE + 1) + SIDE, c * (SIDE + 1): c * (SIDE + 1) + SIDE] = image
    return canvas


def sample_grid(fig, grid, margin: float, columns: int = 5, title: str | None = None):
    """Rows = samplers, columns = N: each cell a mosaic of one sample per digit (0–9) of ``grid``
    (a :class:`~steplab.diffusion.digits_experiments.DigitsGrid`), with a colour bar on the pixel scale."""
    methods, steps = grid.methods, grid.steps
    axes = fig.subplots(len(methods), len(steps), squeeze=False)
    limit = 1.0 + margin
    image = None
    for i, name in enumerate(methods):
        for j, n in enumerate(steps):
            ax = axes[i, j]
            image = ax.imshow(mosaic(grid.pictures[i, j], columns), cmap=_cmap(), vmin=-limit, vmax=limit,
                              interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            for spine in ax.spines.values():
                spine.set_visible(False)
            if i == 0:
                ax.set_title(f"N = {n}", fontsize=10)
            if j == 0:
                ax.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=10)
    bar = fig.colorbar(image, ax=axes, extend="both", fraction=0.025, pad=0.02)
    bar.set_label(f"pixel value (model scale; red/blue: beyond ±{limit:g})")
    if title:
        fig.suptitle(title)
    return axes


def metric_heatmap(ax, values, methods, steps, label: str, fmt: str = "{:.0f}", cmap: str = "viridis",
                   vmin: float | None = None, vmax: float | None = None):
    """A samplers × N heat map of ``values`` (already in display units, e.g. percent), each cell annotated."""
    values = to_numpy(values)
    image = ax.imshow(values, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
    ax.set_xticks(range(len(steps)), [str(n) for n in steps])
    ax.set_yticks(range(len(methods)), list(methods))
    ax.set_xlabel("steps N (NFE)")
    ax.grid(False)
    middle = np.nanmean(values) if vmin is None or vmax is None else (vmin + vmax) / 2
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            ax.text(j, i, fmt.format(values[i, j]), ha="center", va="center", fontsize=MIN_FONT,
                    color="white" if values[i, j] < middle else "black")
    plt.colorbar(image, ax=ax, label=label)
    return ax


def digit_row(ax, images, labels, title: str = "", margin: float = 0.25):
    """One row of samples [K, 64] with the requested digit under each and a colour bar (the notebook widget's
    picture); values beyond ±(1 + ``margin``) in colour, as in :func:`sample_grid`."""
    limit = 1.0 + margin
    image = ax.imshow(mosaic(images, columns=len(to_numpy(images).reshape(-1, SIDE * SIDE))), cmap=_cmap(),
                      vmin=-limit, vmax=limit, interpolation="nearest")
    labels = to_numpy(labels)
    ax.set_xticks([k * (SIDE + 1) + SIDE / 2 - 0.5 for k in range(len(labels))], [str(int(c)) for c in labels])
    ax.set_yticks([])
    ax.grid(False)
    ax.set_xlabel("requested digit")
    if title:
        ax.set_title(title)
    ax.figure.colorbar(image, ax=ax, extend="both", fraction=0.03, pad=0.01, shrink=0.7, label="pixel value")
    return image
