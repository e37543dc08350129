"""Ensemble sizes that follow the device, and the aggregates drawn from an ensemble.

What a GPU makes possible is more runs live, not the same runs faster (issue 13): each page has one
ensemble-size control whose range and default come from :data:`SIZES`, the one table of them, by the
type of :func:`app_pages.ui.device`. The CPU defaults keep each page's redraw cost what it was before the
ensembles (the sizes the pages already had; ``benchmarks/bench_app.py`` measures the redraw against the
200 ms budget): the ensembles that add compute are off by default there (the RNN's random starts cost a
second ``descend`` call per redraw, about doubling that page's compute whatever their number; the
playground's cloud is drawn only with gradient noise, itself off by default); the CUDA ranges are the issue's
(Playground 10⁴ noisy runs, clipping 10⁵ chains, diffusion 10⁵ samples, RNN 10⁴ random starts). Each CUDA
grid holds the CPU default and 10 times it (the sizes ``benchmarks/bench_app.py`` times on a GPU).

An ensemble is aggregated where it was computed, with torch, and only what is drawn leaves the device:
a histogram (:func:`histograms`), a 2-D density image (:func:`density_cells`), quantile bands
(:func:`quantile_band`); never one point per member. :func:`keep_runs` cuts a trajectory of the shown
runs plus an ensemble back to the shown runs, for the history that gets drawn.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import altair as alt
import numpy as np
import pandas as pd
import torch

from app_pages import charts
from app_pages.charts import named, vega_spec
from app_pages.controls import Control
from app_pages.ui import device
from steplab.trajectory import Trajectory

Tensor = torch.Tensor


@dataclass(frozen=True)
class Size:
    """An ensemble slider: ``low..high`` in steps of ``step``, starting at ``default``."""

    low: int
    high: int
    default: int
    step: int


@dataclass(frozen=True)
class Ensemble:
    """One page's ensemble control: its URL name, its label, and its size on each device type."""

    name: str
    label: str
    cpu: Size
    cuda: Size
    help: str


DENSITY_BINS = 48  # cells per side of a density image (at most 48² rows sent)
POINTS_MAX = 2_048  # more members than this are drawn as a density image, not as points
LINES_MAX = 8  # more runs of a sweep than this: LINES_MAX evenly spaced ones are drawn as lines
SIZES = {
    "playground": Ensemble("ensemble", "noisy runs of the current setting (density cloud)",
                           cpu=Size(0, 512, 64, 16), cuda=Size(0, 10_000, 1_024, 16),
                           help="independent noise draws from the same start (0: none); drawn as a density image "
                                "and a 10–50–90% loss band, aggregated where they were computed"),
    "clipping": Ensemble("chains", "chains", cpu=Size(16, 1024, 256, 16), cuda=Size(16, 100_000, 4_096, 16),
                         help="chains per setting: the histogram and the bias readout average over them"),
    "logistic": Ensemble("runs", "step sizes in the sweep (log-spaced)", cpu=Size(1, 8, 4, 1),
                         cuda=Size(1, 1_024, 64, 1),
                         help="log-spaced step sizes between the smallest and the largest; up to "
                              f"{LINES_MAX} are drawn as lines, every one in the sweep charts"),
    "diffusion": Ensemble("samples", "samples", cpu=Size(64, 1024, 256, 64), cuda=Size(64, 100_000, 4_096, 32),
                          help="samples per sampler (same noise and labels for every sampler); above "
                               f"{POINTS_MAX:,} they are drawn as a density image"),
    "rnn": Ensemble("starts", "random starts for the success rate", cpu=Size(0, 1024, 0, 16),
                    cuda=Size(0, 10_000, 2_048, 16),
                    help="random starts on the low-loss side of the cliff wall (steplab.rnn.cliff."
                         "random_wall_starts), each run clipped and unclipped with the current η and c (0: none)"),
}

def size(page: str) -> Size:
    """The ensemble size range for ``page`` on the current device type (CUDA or else the CPU's)."""
    entry = SIZES[page]
    return entry.cuda if device().type == "cuda" else entry.cpu


def control(page: str) -> Control:
    """The page's ensemble control (an 'int' slider mirrored in the URL like every other control)."""
    entry, bounds = SIZES[page], size(page)
    return Control(entry.name, entry.label, "int", bounds.default, low=bounds.low, high=bounds.high,
                   step=bounds.step, help=f"{entry.help}. Range on this device ({device().type}): "
                                          f"{bounds.low:,}–{bounds.high:,}.")


def keep_runs(traj: Trajectory, runs: int) -> Trajectory:
    """The first ``runs`` runs of ``traj`` (the shown ones; the ensemble after them is aggregated instead)."""
    return Trajectory(iterates=traj.iterates[:, :runs], recorded_steps=traj.recorded_steps, loss=traj.loss[:, :runs],
                      grad_norm=traj.grad_norm[:, :runs], clipped_grad_norm=traj.clipped_grad_norm[:, :runs],
                      diverged_at=traj.diverged_at[:runs], final=traj.final[:runs], max_loss=traj.max_loss,
                      state=traj.state)


def drawn_runs(sweep: int, total: int) -> list[int]:
    """Which runs a page draws as lines: all of them when the sweep (the first ``sweep`` of ``total`` runs) has
    at most :data:`LINES_MAX`, else :data:`LINES_MAX` evenly spaced sweep runs (first and last included),
    and always the runs after the sweep (overlays such as the Batch Perceptron)."""
    if sweep <= LINES_MAX:
        return list(range(total))
    return sorted({round(i * (sweep - 1) / (LINES_MAX - 1)) for i in range(LINES_MAX)}) + list(range(sweep, total))


def histograms(values: Tensor, low: float, high: float, bins: int = 40) -> Tensor:
    """Counts ``[R, bins]`` of each row of ``values`` ``[R, N]`` on ``bins`` equal cells of [low, high], on the
    values' device; values outside go to the end cells, non-finite ones are not counted."""
    finite = torch.isfinite(values)
    scaled = (values.nan_to_num(0.0, 0.0, 0.0) - low) / max(high - low, 1e-300) * bins
    index = scaled.floor().clamp(0, bins - 1).long()
    counts = torch.zeros(values.shape[0], bins, dtype=torch.long, device=values.device)
    return counts.scatter_add_(1, index, finite.long())


def density_cells(points: Tensor, box: tuple, bins: int = DENSITY_BINS) -> pd.DataFrame:
    """A 2-D histogram of ``points`` ``[N, 2]`` on ``bins x bins`` cells of ``box = (x0, x1, y0, y1)``,
    computed on the points' device; the non-empty cells as rows (x1, x2, y1, y2, count, share).
    Points outside the box or non-finite are not counted (``share`` is of all N points)."""
    x0, x1, y0, y1 = box
    inside = torch.isfinite(points).all(-1)
    inside &= (points[:, 0] >= x0) & (points[:, 0] <= x1) & (points[:, 1] >= y0) & (points[:, 1] <= y1)
    cells = (points.nan_to_num(0.0, 0.0, 0.0) - points.new_tensor([x0, y0])) / points.new_tensor(
        [max(x1 - x0, 1e-300), max(y1 - y0, 1e-300)]) * bins
    index = cells.floor().clamp(0, bins - 1).long()
    flat = index[:, 1] * bins + index[:, 0]
    counts = torch.zeros(bins * bins, dtype=torch.long, device=points.device).scatter_add_(0, flat, inside.long())
    counts = counts.cpu().numpy()
    keep = np.flatnonzero(counts)
    column, row = keep % bins, keep // bins
    width, height = (x1 - x0) / bins, (y1 - y0) / bins
    return pd.DataFrame({"x1": x0 + column * width, "x2": x0 + (column + 1) * width, "y1": y0 + row * height,
                         "y2": y0 + (row + 1) * height, "count": counts[keep],
                         "share": counts[keep] / max(len(points), 1)})


def quantile_band(values: Tensor, quantiles=(0.1, 0.5, 0.9)) -> Tensor:
    """Per row of ``values`` ``[T, N]``: the given quantiles over its finite entries, ``[T, len(quantiles)]``
    (NaN where a row has none), on the values' device."""
    finite = torch.where(torch.isfinite(values), values, torch.nan)
    q = torch.tensor(quantiles, dtype=values.dtype, device=values.device)
    rows = max(1, 2**23 // max(values.shape[1], 1))  # torch.nanquantile takes at most 2^24 elements
    return torch.cat([torch.nanquantile(finite[i:i + rows], q, dim=1).T for i in range(0, len(values), rows)])


@vega_spec
def density_spec(box: tuple, title: str, what: str) -> alt.LayerChart:
    """A density image (source 'cells': x1, x2, y1, y2, count, share) with the shown runs' current points
    (source 'now': x, y, run) on the fixed view ``box``."""
    xscale = alt.Scale(domain=[box[0], box[1]], nice=False, zero=False)
    yscale = alt.Scale(domain=[box[2], box[3]], nice=False, zero=False)
    image = alt.Chart(named("cells")).mark_rect().encode(
        x=alt.X("x1:Q", scale=xscale, title=what[0]), x2=alt.X2("x2:Q"),
        y=alt.Y("y1:Q", scale=yscale, title=what[1]), y2=alt.Y2("y2:Q"),
        color=alt.Color("count:Q", scale=alt.Scale(scheme="purples", type="sqrt"),
                        legend=alt.Legend(orient="right", title="members")),
        tooltip=[alt.Tooltip("count:Q", title="members"), alt.Tooltip("share:Q", format=".1%")])
    now = alt.Chart(named("now")).mark_point(shape="cross", size=140, filled=True, clip=True).encode(
        x=alt.X("x:Q", scale=xscale), y=alt.Y("y:Q", scale=yscale),
        color=alt.Color("run:N", scale=alt.Scale(range=charts.RUN_COLORS), sort="ascending", legend=None),
        tooltip=[alt.Tooltip("run:N"), alt.Tooltip("x:Q", format=".3f"), alt.Tooltip("y:Q", format=".3f")])
    return (image + now).properties(height=320, title=title)


@vega_spec
def band_spec(title: str, log: bool = True) -> alt.LayerChart:
    """A quantile band (source 'band': step, low, mid, high) behind a line (source 'line': step, value, run)."""
    scale = alt.Scale(type="log" if log else "linear")
    band = alt.Chart(named("band")).mark_area(opacity=0.3, color="#7b4fa0").encode(
        x=alt.X("step:Q", title="step"), y=alt.Y("low:Q", scale=scale, title=None), y2=alt.Y2("high:Q"),
        tooltip=[alt.Tooltip("step:Q"), alt.Tooltip("low:Q", title="10%", format=".3g"),
                 alt.Tooltip("high:Q", title="90%", format=".3g")])
    mid = alt.Chart(named("band")).mark_line(color="#7b4fa0", strokeDash=[4, 2]).encode(
        x=alt.X("step:Q"), y=alt.Y("mid:Q", scale=scale),
        tooltip=[alt.Tooltip("step:Q"), alt.Tooltip("mid:Q", title="median", format=".3g")])
    line = alt.Chart(named("line")).mark_line(clip=True).encode(
        x=alt.X("step:Q"), y=alt.Y("value:Q", scale=scale), color=charts.run_color(),
        tooltip=[alt.Tooltip("run:N"), alt.Tooltip("step:Q"), alt.Tooltip("value:Q", format=".3g")])
    return (band + mid + line).properties(height=320, title=title)


@dataclass
class Cloud:
    """An ensemble being played: its members' resume point on the device (``x`` ``[E, *dims]``, ``state``,
    ``generator``) and, on the CPU, the quantile band of their loss at steps 0..t (``band`` ``[t + 1, 3]``);
    ``drawn``: what the last redraw aggregated (members, how many fell in the view), for the readouts."""

    x: Tensor
    band: Tensor
    state: object = None
    generator: torch.Generator | None = None
    drawn: dict = field(default_factory=dict)

    @classmethod
    def at(cls, x0: Tensor, loss0: Tensor, generator: torch.Generator | None = None) -> Cloud:
        return cls(x=x0.clone(), band=quantile_band(loss0[None]).cpu(), generator=generator)

    @property
    def members(self) -> int:
        return self.x.shape[0]

    def advance(self, more: Trajectory) -> Cloud:
        """Continue with ``more`` (a run from ``x``): its band rows come back, its members stay on the device."""
        self.x, self.state, self.generator = more.final, more.state, more.generator or self.generator
        self.band = torch.cat([self.band, quantile_band(more.loss[1:]).cpu()])
        return self

    def band_frame(self) -> pd.DataFrame:
        """The band as rows (step, low, mid, high), finite and positive ones only (for a log axis)."""
        band = self.band.numpy()
        frame = pd.DataFrame({"step": np.arange(len(band)), "low": band[:, 0], "mid": band[:, 1],
                              "high": band[:, 2]})
        values = frame[["low", "mid", "high"]].to_numpy()
        return frame[(np.isfinite(values) & (values > 0) & (values < charts.MAX_SHOWN)).all(1)]
