"""The diffusion page's (ring mode) chart for playback in the browser: the samples at the step shown, δλ of
that step against the stability region of the method applied there, δλ per step so far and the readout (samples
off the reference, δλ outside the region, since when the samples are lost and why), all in one Vega spec
following one step (:mod:`app_pages.browser_player`).

The page computes the whole sampler path ahead (:class:`app_pages.live.SamplerPath`) and hands this module
what is drawn, per step: the samples on the data scale, which samples are off the reference, and δλ per
sample. What is sent is decimated: at most :data:`POINTS_SENT` numbers of sample positions in all (evenly
spaced samples, the same ones every step), and with more than ``ensemble.POINTS_MAX`` samples a density of all
of them per step (cells, not points). The regions' boundary loci (one per method the warm-up applies) are sent
once and picked by the step.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache, partial

import numpy as np
import pandas as pd

from app_pages import browser_player as bp
from app_pages import charts, ensemble, specs
from app_pages import vega_panels as panels
from app_pages.playground_vega import equal_aspect_domains, fill, xy
from steplab.diffusion import boundary_locus, real_interval_closed_form, spectral_radius
from steplab.diffusion.theory import applied_method

POINTS_SENT = 40_000  # sample positions sent per chart, all samplers and steps together (beyond: fewer samples)
READOUT_CHARS = 36  # a readout line: what half of a laptop's chart (~210 px at 1000 px) shows at 11 px
SYMLOG_TICKS = [0, -0.5, -1, -2, -5, -10, -20, -50, -100, -200, -500, -1e3, -1e4, -1e5]
SERIES = ["worst δλ", "median δλ"]  # the history panel's two lines
SERIES_COLORS = ["#d62728", "#1f77b4"]  # their colours (as the server player's history chart)


@dataclass
class Region:
    """The stability region of the method applied at each step k -> k+1 (the warm-up applies lower orders):
    ``applied[k]`` its name, ``left[k]`` its real interval's left end; ``None`` for DPM-Solver (no region)."""

    applied: list
    left: list

    @classmethod
    def of(cls, method: str, steps: int) -> Region | None:
        try:
            applied = [applied_method(method, k) for k in range(steps)]
        except ValueError:  # DPM-Solver: not a linear multistep method
            return None
        return cls(applied, [float(real_interval_closed_form(a)) for a in applied])

    def inside(self, k: int, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Whether each δλ of step k lies in the region (|ζ|max <= 1) and that growth factor |ζ|max."""
        finite = np.isfinite(z)
        growth = spectral_radius(self.applied[k], np.where(finite, z, 0)).numpy()
        return growth <= 1 + 1e-9, growth


@lru_cache(maxsize=64)
def boundary(method: str) -> tuple[np.ndarray, np.ndarray] | None:
    """The boundary locus (re, im) of a method's stability region (361 points), or None where it has none."""
    try:
        z = boundary_locus(method, points=361).numpy()
    except ValueError:
        return None
    return z.real, z.imag


def since(bad: np.ndarray, t: int) -> int:
    """The start of the final off streak of the samples off at step t (``bad`` [T, B]; 0 if always off)."""
    lost = bad[: t + 1, bad[t]]
    return int((lost.shape[0] - np.argmax(~lost[::-1], axis=0)).min()) if (~lost).any() else 0


def divergence_text(t: int, steps: int, bad: np.ndarray, z_at: Callable[[int], np.ndarray],
                    region: Region | None) -> str:
    """'diverged since step f: δλ = … < …, outside the stability interval of … (applied at step f − 1) (n samples
    off).' for the samples off at step t (empty if none): the page's one wording, for either player
    (``z_at(k)``: δλ of step k per sample)."""
    if not bad[t].any():
        return ""
    first, reason = since(bad, t), ""
    if region is not None and first > 0:
        worst, left = float(np.nanmin(z_at(first - 1).real)), region.left[first - 1]
        reason = (f": δλ = {worst:.3g} < {left:.3g}, outside the stability interval of {region.applied[first - 1]} "
                  f"(applied at step {first - 1})" if worst < left
                  else f": δλ ≥ {left:.3g}; the step was too large for the nonlinear part")
    what = "diverged" if t == steps else "off the reference"
    return f"{what} since step {first}{reason} ({int(bad[t].sum())} samples off)."


def readouts(method: str, sigmas, bad: np.ndarray, z: np.ndarray, region: Region | None) -> list[dict]:
    """Per step t: the readout's lines ``t`` (wrapped) and which of them are the divergence report ``e``."""
    steps, rows = len(sigmas) - 1, []
    regions = {k: region.inside(k, z[k]) for k in range(steps)} if region is not None else {}  # once a step
    for t in range(steps + 1):
        n = min(t, steps - 1)
        lines = [f"step {t} / {steps} (σ = {sigmas[t]:.3g}): {int(bad[t].sum())} / {bad.shape[1]} samples off the "
                 "reference (‖x_t − x_ref,t‖ > 1)"]
        if region is not None:
            inside, growth = regions[n]
            finite = np.isfinite(z[n])
            median = f" (median |ζ| {np.median(growth[finite]):.2f})" if finite.any() else ""
            lines.append(f"δλ outside {region.applied[n]}'s region, step {n}→{n + 1}: {int((~inside).sum())} / "
                         f"{len(inside)}{median}; its stable real interval ({region.left[n]:.3g}, 0)")
        wrapped = [part for line in lines for part in textwrap.wrap(line, READOUT_CHARS)]
        lost = divergence_text(t, steps, bad, z.__getitem__, region)
        error = textwrap.wrap(f"{method} — {lost}", READOUT_CHARS) if lost else []
        rows.append({"s": t, "t": wrapped + error, "e": [0] * len(wrapped) + [1] * len(error)})
    return rows


def sample_rows(xs: dict[str, np.ndarray], classes: np.ndarray) -> tuple[list[dict], int]:
    """Per step and sampler (``g``: 0 = this sampler, then the others in order) the shown samples' positions
    (``xs``: name -> [N+1, B, 2] on the data scale), the same evenly spaced samples every step, finite only;
    and how many samples are sent (all of them unless the budget :data:`POINTS_SENT` is less)."""
    count, batch = next(iter(xs.values())).shape[:2]
    keep = min(batch, max(16, POINTS_SENT // (2 * count * len(xs))))
    chosen = np.unique(np.linspace(0, batch - 1, keep).round().astype(int))
    rows = []
    for g, path in enumerate(xs.values()):
        for s in range(count):
            x, y = path[s, chosen, 0], path[s, chosen, 1]
            ok = np.isfinite(x) & np.isfinite(y) & (np.abs(x) < 1e3) & (np.abs(y) < 1e3)
            rows.append({"s": s, "g": g, "x": bp.rounded(x[ok], 3), "y": bp.rounded(y[ok], 3),
                         "c": classes[chosen][ok].tolist()})
    return rows, len(chosen)


def density_rows(cells: list[pd.DataFrame], box: tuple, bins: int = ensemble.DENSITY_BINS) -> list[dict]:
    """Per step the non-empty cells of :func:`ensemble.density_cells` as flat indices ``i`` (row × bins + column)
    and counts ``n`` (the browser turns an index back into the cell's corners)."""
    x0, x1, y0, y1 = box
    rows = []
    for s, frame in enumerate(cells):
        column = np.round((frame.x1.to_numpy() - x0) / (x1 - x0) * bins).astype(int)
        row = np.round((frame.y1.to_numpy() - y0) / (y1 - y0) * bins).astype(int)
        rows.append({"s": s, "i": (row * bins + column).tolist(), "n": frame["count"].astype(int).tolist()})
    return rows


def where(name: str, source: str, expr: str) -> dict:
    """A data set: the rows of ``source`` for which ``expr`` holds (e.g. those of the step shown)."""
    return {"name": name, "source": source, "transform": [{"type": "filter", "expr": expr}]}


def samples_group(rows: list[dict], names: list[str], means: np.ndarray, title: str, density: bool, box: tuple,
                  w: str = "width", h: str = "height") -> dict:
    """The samples panel: this sampler's samples at the step shown, coloured by class (or the density of all of
    them), the other samplers' in grey (one shape each), the class means as crosses; equal aspect on ``box``."""
    x_domain, y_domain = equal_aspect_domains(box, w, h)
    scales = [{"name": "x", "domain": {"signal": x_domain}, "range": [0, {"signal": w}], "zero": False, "nice": False},
              {"name": "y", "domain": {"signal": y_domain}, "range": [{"signal": h}, 0], "zero": False, "nice": False},
              {"name": "class", "type": "ordinal", "domain": list(range(len(means))),
               "range": {"scheme": "category10"}},
              {"name": "sampler", "type": "ordinal", "domain": names[1:] or ["-"], "range": specs.SHAPES}]
    if density:
        data, scale, marks = density_layer(rows, box)
        scales.append(scale)
    else:
        data = [{"name": "samples", "values": rows},  # one row a step and sampler: filtered, then flattened
                {"name": "samples_now", "source": "samples", "transform": [
                    {"type": "filter", "expr": "datum.s === step"}, {"type": "flatten", "fields": ["x", "y", "c"]}]},
                where("others_now", "samples_now", "datum.g > 0"), where("mine_now", "samples_now", "datum.g === 0")]
        marks = [
            {"type": "symbol", "from": {"data": "others_now"}, "interactive": False, "encode": {"update": {
                "x": xy("x"), "y": xy("y", "y"), "size": {"value": 26}, "stroke": {"value": "#666"},
                "strokeOpacity": {"value": 0.55}, "fill": {"value": "transparent"},
                "shape": {"signal": f"scale('sampler', {names!r}[datum.g])"}}}},
            {"type": "symbol", "name": "samples_mark", "from": {"data": "mine_now"}, "encode": {"update": {
                "x": xy("x"), "y": xy("y", "y"), "size": {"value": 18}, "fill": {"scale": "class", "field": "c"},
                "opacity": {"value": 0.7},
                "tooltip": {"signal": "{class: datum.c, x: format(datum.x, '.3f'), y: format(datum.y, '.3f')}"}}}}]
    data.append({"name": "means", "values": [{"x": float(a), "y": float(b)} for a, b in means]})
    marks.append({"type": "symbol", "from": {"data": "means"}, "interactive": False, "encode": {"update": {
        "x": xy("x"), "y": xy("y", "y"), "shape": {"value": "cross"}, "size": {"value": 140},
        "fill": {"value": "black"}}}})
    legends = [{"shape": "sampler", "orient": "bottom-left", "symbolStrokeColor": "#666", "symbolFillColor": "white",
                "labelFontSize": 10, "fillColor": "rgba(255,255,255,0.8)", "padding": 3}] if len(names) > 1 else []
    return {"title": {"text": charts.wrap_title(title, panels.TITLE_CHARS), "anchor": "start", "fontSize": 12},
            "data": data, "scales": scales, "legends": legends,
            "axes": [{"orient": "bottom", "scale": "x", "title": "x₁ = x̄₁/√(1+σ²)", "tickCount": 5},
                     {"orient": "left", "scale": "y", "title": "x₂", "tickCount": 5}],
            "marks": [{"type": "group", **fill(w, h), "marks": marks}]}


def density_layer(rows: list[dict], box: tuple, bins: int = ensemble.DENSITY_BINS) -> tuple[list, dict, list]:
    """The data sets, colour scale and rect mark of a density image per step (:func:`density_rows`)."""
    x0, x1, y0, y1 = box
    wx, wy = (x1 - x0) / bins, (y1 - y0) / bins
    high = max([max(r["n"], default=1) for r in rows], default=1)
    corners = [("x1", f"{x0!r} + (datum.i % {bins}) * {wx!r}"), ("x2", f"datum.x1 + {wx!r}"),
               ("y1", f"{y0!r} + floor(datum.i / {bins}) * {wy!r}"), ("y2", f"datum.y1 + {wy!r}")]
    data = [{"name": "cells", "values": rows},  # one row a step: filtered, then flattened
            {"name": "cells_now", "source": "cells", "transform": [
                {"type": "filter", "expr": "datum.s === step"}, {"type": "flatten", "fields": ["i", "n"]}] + [
                {"type": "formula", "as": name, "expr": expr} for name, expr in corners]}]
    scale = {"name": "count", "type": "sqrt", "domain": [0, high], "range": {"scheme": "purples"}, "zero": True}
    marks = [{"type": "rect", "name": "cells_mark", "from": {"data": "cells_now"}, "encode": {"update": {
        "x": xy("x1"), "x2": xy("x2"), "y": xy("y1", "y"), "y2": xy("y2", "y"),
        "fill": {"scale": "count", "field": "n"}, "tooltip": {"signal": "{samples: datum.n}"}}}}]
    return data, scale, marks


def region_group(region: Region, z: np.ndarray, loci: dict, x_min: float, w: str = "width",
                 h: str = "height") -> dict:
    """The stability region of the method applied at the step shown (its boundary locus and stable real
    interval, sent once per method) and that step's δλ per sample (blue inside, red outside); fixed axes."""
    names = list(dict.fromkeys(region.applied))  # the methods the warm-up applies, in order
    index = [names.index(a) for a in region.applied]
    keep = min(z.shape[1], ensemble.POINTS_MAX, max(64, POINTS_SENT // (3 * len(z))))  # the samples' budget
    chosen = np.unique(np.linspace(0, z.shape[1] - 1, keep).round().astype(int))
    points = []
    for k in range(len(z)):
        inside, _ = region.inside(k, z[k][chosen])
        ok = np.isfinite(z[k][chosen])
        zk = z[k][chosen][ok]
        points.append({"s": k, "re": bp.rounded(zk.real), "im": bp.rounded(zk.imag),
                       "o": (~inside[ok]).astype(int).tolist()})
    at = f"{index!r}[min(step, {len(z) - 1})]"
    return {
        "title": {"text": charts.wrap_title(
            "stability region of the applied method and δλ at this step" if len(chosen) == z.shape[1] else
            f"region of the applied method, δλ at this step ({len(chosen)} of {z.shape[1]:,})", panels.TITLE_CHARS),
            "anchor": "start", "fontSize": 12},
        "data": [
            {"name": "locus", "values": [{"a": names.index(a), "re": bp.rounded(loci[a][0]),
                                          "im": bp.rounded(loci[a][1])} for a in names if loci.get(a) is not None],
             "transform": [{"type": "flatten", "fields": ["re", "im"]}]},
            {"name": "locus_now", "source": "locus", "transform": [{"type": "filter", "expr": f"datum.a === {at}"}]},
            {"name": "interval", "values": [{"a": names.index(a), "x1": left} for a, left in
                                            dict(zip(region.applied, region.left)).items()]},
            {"name": "interval_now", "source": "interval",
             "transform": [{"type": "filter", "expr": f"datum.a === {at}"}]},
            {"name": "z", "values": points},  # one row a step: filtered, then flattened
            {"name": "z_now", "source": "z", "transform": [
                {"type": "filter", "expr": f"datum.s === min(step, {len(z) - 1})"},
                {"type": "flatten", "fields": ["re", "im", "o"]}]},
        ],
        "scales": [{"name": "x", "domain": [x_min, 0.6], "range": [0, {"signal": w}], "zero": False, "nice": False},
                   {"name": "y", "domain": [-1.6, 1.6], "range": [{"signal": h}, 0], "zero": False, "nice": False},
                   {"name": "stable", "type": "ordinal", "domain": ["inside", "outside"],
                    "range": ["#1f77b4", "#d62728"]}],
        "axes": [{"orient": "bottom", "scale": "x", "title": "Re δλ", "tickCount": 5},
                 {"orient": "left", "scale": "y", "values": [-1, 0, 1], "title": "Im δλ", "titleAngle": 0,
                  "titleAlign": "left", "titleBaseline": "top", "titleX": 6, "titleY": 4}],  # inside: fits the gap
        "legends": [{"fill": "stable", "orient": "bottom-left", "title": "δλ of each sample", "symbolType": "circle",
                     "labelFontSize": 10, "titleFontSize": 10, "fillColor": "rgba(255,255,255,0.8)", "padding": 3}],
        "marks": [{"type": "group", **fill(w, h), "marks": [
            {"type": "line", "name": "locus_mark", "from": {"data": "locus_now"}, "interactive": False,
             "encode": {"update": {"x": xy("re"), "y": xy("im", "y"), "stroke": {"value": "#444"}}}},
            {"type": "rule", "from": {"data": "interval_now"}, "encode": {"update": {
                "x": xy("x1"), "x2": {"scale": "x", "value": 0}, "y": {"scale": "y", "value": 0},
                "stroke": {"value": "#2ca02c"}, "strokeWidth": {"value": 6}, "opacity": {"value": 0.6},
                "tooltip": {"signal": "'stable real interval from ' + format(datum.x1, '.3f')"}}}},
            {"type": "symbol", "name": "z_mark", "from": {"data": "z_now"}, "encode": {"update": {
                "x": xy("re"), "y": xy("im", "y"), "size": {"value": 30}, "opacity": {"value": 0.7},
                "fill": {"signal": "scale('stable', datum.o ? 'outside' : 'inside')"},
                "tooltip": {"signal": "{'Re δλ': format(datum.re, '.3f'), 'Im δλ': format(datum.im, '.3f')}"}}}},
        ]}],
    }


def history_panel(z: np.ndarray, left: float, changes, w: str, h: str) -> dict:
    """δλ per step so far: the worst (smallest real part) and the median over the samples, on a symlog axis,
    with the full method's real interval's left end as a green dashed line."""
    real = np.where(np.isfinite(z.real), z.real, np.nan)
    ok = np.isfinite(real).any(axis=1)
    steps = np.arange(len(z))[ok]
    worst, median = np.nanmin(real[ok], axis=1), np.nanmedian(real[ok], axis=1)
    lines = [{"r": r, "k": 0, "s": steps.tolist(), "v": [float(f"{v:.5g}") for v in values]}
             for r, values in enumerate((worst, median))]
    group = panels.series("δλ per step so far", lines, len(z), log=False, y_title="Re δλ (symlog)",
                          changes=changes, name="history")(w, h)
    y = next(s for s in group["scales"] if s["name"] == "y")
    low, high = min([left, *worst, *median]), max([0.0, *worst, *median])
    y.update(type="symlog", domain=[low * 1.1 if low < 0 else low, high], nice=False)
    group["marks"].insert(0, {"type": "rule", "interactive": False, "encode": {"update": {
        "x": {"value": 0}, "x2": {"signal": w}, "y": {"scale": "y", "value": left}, "stroke": {"value": "#2ca02c"},
        "strokeDash": {"value": [5, 3]}, "tooltip": {"value": f"left end of the stable interval: {left:.3f}"}}}})
    group["marks"].insert(1, {"type": "text", "interactive": False, "encode": {"update": {
        "x": {"signal": w}, "y": {"scale": "y", "value": left, "offset": -4}, "align": {"value": "right"},
        "fontSize": {"value": 10}, "fill": {"value": "#2ca02c"}, "text": {"value": f"region's left end {left:.3g}"}}}})
    for axis in group["axes"]:
        axis["gridScale"] = "x"  # grid lines as long as the panel is wide, not into the next panel
        if axis["scale"] == "y":  # symlog ticks at round values
            axis.update(format="~r", values=[v for v in SYMLOG_TICKS if y["domain"][0] <= v <= y["domain"][1]])
    group["legends"] = [{"stroke": "color", "orient": "bottom-left", "symbolType": "stroke", "labelFontSize": 10,
                         "encode": {"labels": {"update": {"text": {"signal": f"{SERIES!r}[datum.value]"}}}}}]
    return group


def readout_group(rows: list[dict], w: str = "width", h: str = "height") -> dict:
    """The readout of the step shown, as text: samples off the reference, δλ outside the region and, in red,
    since when the samples are lost and why."""
    return {"title": {"text": "readout at this step", "anchor": "start", "fontSize": 12},
            "data": [{"name": "readout", "values": rows, "transform": [{"type": "flatten", "fields": ["t", "e"],
                                                                         "index": "i"}]},
                     {"name": "readout_now", "source": "readout",
                      "transform": [{"type": "filter", "expr": "datum.s === step"}]}],
            "marks": [{"type": "text", "name": "readout_text", "from": {"data": "readout_now"}, "interactive": False,
                       "encode": {"update": {"x": {"value": 0}, "y": {"signal": "6 + 15 * datum.i"},
                                             "baseline": {"value": "top"}, "fontSize": {"value": 11},
                                             "limit": {"signal": w}, "text": {"field": "t"},
                                             "fill": {"signal": "datum.e ? '#c62828' : '#222'"},
                                             "fontWeight": {"signal": "datum.e ? 'bold' : 'normal'"}}}}]}


def spec(*, method: str, sigmas, xs: dict[str, np.ndarray], classes: np.ndarray, bad: np.ndarray, z: np.ndarray,
         means: np.ndarray, cells: list[pd.DataFrame] | None, box: tuple, samples: int, changes,
         start: dict, spec_id: int, fps: float) -> dict:
    """The whole page's animated chart. ``xs``: sampler label -> [N+1, B, 2] samples on the data scale (this
    sampler first); ``bad`` [N+1, B] off the reference; ``z`` [N, B] δλ of each step; ``cells``: per step the
    density of all samples (drawn instead of points), or None."""
    steps = len(sigmas) - 1
    region = Region.of(method, steps)
    if cells is not None:
        rows, title = density_rows(cells, box), f"{samples:,} samples now (density of all of them; ✚ class means)"
    else:
        rows, shown = sample_rows(xs, classes)
        title = ("samples now (•: this sampler, grey: others, +: class means)" if shown == samples else
                 f"samples now, {shown} of {samples:,} (•: this one, grey: others, +: means)")
    text = readouts(method, sigmas, bad, z, region)
    first = [partial(samples_group, rows, list(xs), means, title, cells is not None, box)]
    if region is None:
        layout = [(340, first + [partial(readout_group, text)])]
    else:
        finite = z.real[np.isfinite(z.real)]
        reach = min(min(region.left) * 1.6, -2.5, float(np.quantile(finite, 0.02)) * 1.1 if finite.size else 0)
        x_min = -next(b for b in (2.5, 5, 10, 20, 50, 100, 200, 500, 1e3, 1e4, 1e9) if b >= -reach)
        loci = {applied: boundary(applied) for applied in dict.fromkeys(region.applied)}
        layout = [(340, first + [partial(region_group, region, z, loci, x_min)]),
                  (200, [partial(history_panel, z, float(real_interval_closed_form(method)), changes),
                         partial(readout_group, text)])]
    scales = [{"name": "color", "type": "ordinal", "domain": [0, 1], "range": SERIES_COLORS}]
    chart = bp.player_spec(layout, steps, bp.frame_stride(steps), fps=round(fps), start=start, spec_id=spec_id,
                           scales=scales)
    chart["height"] += 44  # room for the last row's x axis (player_spec leaves it to a legend of runs, none here)
    return chart
