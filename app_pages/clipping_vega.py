"""The clipping page's charts. In the browser (:mod:`app_pages.browser_player`): one Vega spec whose panels all
follow one step: where the chains are (a histogram per shown frame), the rate √E‖∇f(x_t)‖², the mean over
chains of x_t, and the measured bias against the theory curve as c moves. On the server (``?playback=server``):
the same views as separate charts of the live step (:func:`server_charts`).

Only aggregates leave the device: the chain positions at the shown frames (at most ``MAX_FRAMES + 1`` of them)
are kept on the compute device while the run is computed (:func:`record_frames`) and counted there into
``BINS`` cells per setting and frame, on one x axis for the whole run (:func:`frame_histograms`); the chains
themselves are never sent.
"""

from __future__ import annotations

import math
from functools import partial

import numpy as np
import pandas as pd
import torch

from app_pages import browser_player as bp
from app_pages import charts, ensemble, specs
from app_pages import vega_panels as panels

BINS = 40
RELAXATIONS = 6  # a burn-in of 6 relaxation times 1/(η h′) leaves e⁻⁶ ≈ 0.25% of the start's offset
CURVES = ["mean-field theory", "KHS envelope min(σ, σ²/c)"]
MARKERS = ["measured, at the step shown", "sweep: whole curve (static)"]
LEGEND_DROP = 16  # px more between rows and above the legends than browser_player leaves (room for axis titles)


def plan_frames(notes: dict, x0: torch.Tensor, steps: int) -> None:
    """Record the chains at the frames the browser will show (steps 0, k, 2k, ... and ``steps``), from x_0."""
    notes["frame plan"] = (steps, bp.frame_stride(steps))
    notes["frames"] = [(np.array([0]), x0[None, :, 0].to(torch.float32, copy=True))]


def record_frames(notes: dict, iterates: torch.Tensor, t0: int) -> None:
    """Keep, on their device, the chains' positions at the planned frames among ``iterates`` (rows: steps
    t0..t0 + n of one run() call); nothing without a plan (the server player draws the live step only)."""
    if "frame plan" not in notes:
        return
    steps, stride = notes["frame plan"]
    n = iterates.shape[0] - 1
    first = (-t0) % stride or stride  # the first row i >= 1 with t0 + i a multiple of the stride
    rows = list(range(first, n + 1, stride))
    if t0 + n == steps and (not rows or rows[-1] != n):
        rows.append(n)  # the last step is a frame of its own
    if rows:
        notes["frames"].append((t0 + np.array(rows), iterates[rows, :, 0].to(torch.float32, copy=True)))


def histogram_edges(x: torch.Tensor, marks: list[float]) -> np.ndarray:
    """``BINS`` + 1 edges spanning, over all frames (rows of ``x``), each frame's 1–99 % quantiles of the finite
    positions and the ``marks`` (±theory); values beyond go to the end cells."""
    finite = torch.where(torch.isfinite(x), x, torch.nan)
    quantiles = torch.nanquantile(finite, finite.new_tensor([0.01, 0.99]), dim=-1).reshape(2, -1)
    quantiles = quantiles[:, torch.isfinite(quantiles).all(0)]
    low, high = (float(quantiles[0].min()), float(quantiles[1].max())) if quantiles.numel() else (-1.0, 1.0)
    low, high = min([low] + marks), max([high] + marks)
    if high - low < 1e-6:
        low, high = low - 1.0, high + 1.0
    return np.linspace(low - 1e-9, high + 1e-9, BINS + 1)


def frame_histograms(notes: dict, count: int, marks: list[float]) -> None:
    """Count the recorded frames once (on their device) into ``notes["histograms"]`` = (steps [F], edges,
    counts [F, R, BINS]) and free the positions; ``notes["histogram counts"]``: chains counted per setting at
    the last frame."""
    if "frames" not in notes:
        return
    recorded = notes.pop("frames")
    steps = np.concatenate([s for s, _ in recorded])
    x = torch.cat([positions for _, positions in recorded])  # [F, R * C]
    edges = histogram_edges(x, marks)
    counts = ensemble.histograms(x.reshape(len(steps) * count, -1), edges[0], edges[-1], bins=BINS)
    counts = counts.reshape(len(steps), count, BINS).cpu().numpy()
    notes["histograms"] = (steps, edges, counts)
    notes["histogram counts"] = counts[-1].sum(1).tolist()


def in_force(segments: list[dict], s: int) -> dict:
    """The setting that made step s (the last one started before s; the first at s = 0)."""
    return next((seg for seg in reversed(segments) if seg["from"] < s), segments[0])


def bias_frames(chain_mean: np.ndarray, shown: np.ndarray, segments: list[list[dict]]) -> dict:
    """Per shown step s and run: the measured bias |mean of the chain mean over t in [s/2, s)| (|x_0| at s = 0),
    the threshold c in force (NaN: unclipped) and whether the window starts ``RELAXATIONS`` relaxation times
    after that setting began (``segments[r]``: [{from, c, relax, ...}] in order)."""
    sums = np.vstack([np.zeros((1, chain_mean.shape[1])), np.cumsum(chain_mean, 0)])  # sums[t] = Σ_{i<t}
    half = shown // 2
    width = np.maximum(shown - half, 1)[:, None]
    bias = np.where(shown[:, None] > 0, np.abs((sums[shown] - sums[half]) / width), np.abs(chain_mean[shown]))
    c = np.full(bias.shape, np.nan)
    ok = np.zeros(bias.shape, dtype=bool)
    for r, runs in enumerate(segments):
        for i, s in enumerate(shown):
            seg = in_force(runs, int(s))
            c[i, r] = np.nan if seg["c"] is None else seg["c"]
            ok[i, r] = s // 2 - seg["from"] >= RELAXATIONS * seg["relax"]
    return {"bias": bias, "c": c, "ok": ok}


def spec(history, labels: list[str], segments: list[list[dict]], theory: pd.DataFrame, sweep: pd.DataFrame | None,
         histograms: tuple, changes, start: dict, spec_id: int, fps: float) -> dict:
    """The page's animated chart for a run ``history`` (per-setting means, steps 0..T)."""
    chain_mean = history.iterates[:, :, 0].numpy()
    steps = chain_mean.shape[0] - 1
    stride = bp.frame_stride(steps)
    keep = bp.shown_steps(steps, stride)
    rms = np.sqrt(2 * history.loss.numpy())  # f = x²/2: √(2 E f(x_t)) = √E‖∇f(x_t)‖²
    at = bias_frames(chain_mean, keep, segments)
    sign = -1.0 if chain_mean[steps // 2:steps, 0].mean() < 0 else 1.0  # the side run 1 settles on
    rules = [{"a": seg["from"], "b": seg.get("to", steps + 1), "x": sign * seg["theory"]} for seg in segments[0]
             if math.isfinite(seg["theory"]) and seg["theory"] > 0]
    rows = [(260, [partial(histogram_group, histograms, rules),
                   panels.series("the rate: √E‖∇f(x_t)‖² over the chains (log)",
                                 panels.lines_of(rms, keep, positive=True), steps, changes=changes, name="rate")]),
            (240, [panels.series("mean over chains of x_t", panels.lines_of(chain_mean, keep), steps, log=False,
                                 changes=changes, name="mean"),
                   partial(curve_group, theory, sweep, keep, at, labels)])]
    chart = bp.player_spec(rows, steps, stride, fps=round(fps), start=start, spec_id=spec_id, labels=labels)
    for panel in chart["marks"][-2:]:  # the lower row: its two-line titles clear the upper row's axis titles
        panel["encode"]["update"]["y"]["value"] += LEGEND_DROP
    chart["legends"][0]["legendY"] += 2 * LEGEND_DROP  # and the runs' legend the last row's "step" axis title
    chart["height"] += 2 * LEGEND_DROP + 16 * max(len(MARKERS) + len(CURVES) - len(labels), 0)  # the curve's key
    return chart


def title(text: str, w: str) -> dict:
    return {"text": charts.wrap_title(text, panels.TITLE_CHARS), "anchor": "start", "fontSize": 12,
            "limit": {"signal": w}}


def histogram_group(histograms: tuple, rules: list[dict], w: str, h: str) -> dict:
    """Each setting's histogram of its chains at the step shown (one x axis for the whole run, √ count axis),
    the minimum (solid) and the theory's stationary point of the setting in force (dashed)."""
    steps, edges, counts = histograms
    rows = [{"s": int(s), "r": r, "n": counts[i, r].tolist()} for i, s in enumerate(steps)
            for r in range(counts.shape[1])]
    x = {"name": "x", "type": "linear", "domain": [float(edges[0]), float(edges[-1])], "range": [0, {"signal": w}],
         "zero": False, "nice": False}
    y = {"name": "y", "type": "sqrt", "domain": [0, int(counts.max()) or 1], "range": [{"signal": h}, 0]}
    marks = [{"x": 0.0, "a": 0, "b": int(steps[-1]) + 1, "what": "minimum"}]
    marks += [{**rule, "what": "theory"} for rule in rules]
    return {
        "name": "hist", "title": title("where the chains are at the step shown (chains per bin, √ axis)", w),
        "signals": [{"name": "edges", "value": bp.rounded(edges, 6)}],
        "data": [
            {"name": "hist_rows", "values": rows},
            {"name": "hist_now", "source": "hist_rows", "transform": [
                {"type": "filter", "expr": "datum.s === step"},
                {"type": "flatten", "fields": ["n"], "index": "j"},
                {"type": "filter", "expr": "datum.n > 0"},
                {"type": "formula", "as": "x1", "expr": "edges[datum.j]"},
                {"type": "formula", "as": "x2", "expr": "edges[datum.j + 1]"}]},
            {"name": "hist_marks", "values": marks},
            {"name": "hist_marks_now", "source": "hist_marks",
             "transform": [{"type": "filter", "expr": "datum.a <= step && step < datum.b"}]},
        ],
        "scales": [x, y],
        "axes": [{"orient": "bottom", "scale": "x", "title": "iterate x_t of each chain", "tickCount": 6},
                 {"orient": "left", "scale": "y", "tickCount": 5, "grid": True, "gridOpacity": 0.4}],
        "marks": [
            {"type": "rect", "name": "bars", "from": {"data": "hist_now"}, "encode": {"update": {
                "x": {"scale": "x", "field": "x1"}, "x2": {"scale": "x", "field": "x2"},
                "y": {"scale": "y", "field": "n"}, "y2": {"scale": "y", "value": 0},
                "fill": {"scale": "color", "field": "r"}, "opacity": {"value": 0.55},
                "tooltip": {"signal": "{from: format(datum.x1, '.3g'), to: format(datum.x2, '.3g'), "
                                      "chains: datum.n}"}}}},
            {"type": "rule", "from": {"data": "hist_marks_now"}, "interactive": False, "encode": {"update": {
                "x": {"scale": "x", "field": "x"}, "y": {"value": 0}, "y2": {"signal": h}, "strokeWidth": {"value": 2},
                "stroke": {"signal": "datum.what === 'minimum' ? 'black' : '#ff7f0e'"},
                "strokeDash": {"signal": "datum.what === 'minimum' ? [] : [6, 4]"}}}},
            {"type": "text", "from": {"data": "hist_marks_now"}, "interactive": False, "encode": {"update": {
                "x": {"scale": "x", "field": "x"}, "y": {"signal": "datum.what === 'minimum' ? 10 : 24"},
                "dx": {"signal": f"scale('x', datum.x) > {w} / 2 ? -4 : 4"},
                "align": {"signal": f"scale('x', datum.x) > {w} / 2 ? 'right' : 'left'"}, "fontSize": {"value": 11},
                "fill": {"signal": "datum.what === 'minimum' ? 'black' : '#c55a00'"}, "text": {"field": "what"}}}},
        ],
    }


def curve_group(theory: pd.DataFrame, sweep: pd.DataFrame | None, keep: np.ndarray, at: dict, labels: list[str],
                w: str, h: str) -> dict:
    """The theory's bias over c (static: the mean-field root, and the KHS envelope), the sweep's measured points
    (static, once measured) and each clipped setting's measured bias at the step shown (a +, with a "not yet
    stationary" note while its window is still within the relaxation); a band at the top reads every run's
    bias at the step shown, and the key sits under the panel."""
    curves = [{"k": CURVES.index(name), "c": bp.rounded(g.c, 6), "b": bp.finite_or_none(g.bias)}
              for name, g in theory.groupby("curve", sort=False)]
    points = [{"r": r, "s": keep.tolist(), "c": bp.finite_or_none(at["c"][:, r]),
               "b": bp.finite_or_none(np.round(at["bias"][:, r], 6)), "ok": at["ok"][:, r].astype(int).tolist()}
              for r in range(len(labels))]
    measured = (sweep[sweep.stationary] if sweep is not None
                else pd.DataFrame({"c": [], "bias": [], "stderr": []}))  # the sweep's points, once measured
    clipped = np.isfinite(at["c"])
    cs = np.concatenate([theory.c, measured.c, at["c"][clipped]])
    bs = np.concatenate([theory.bias, measured.bias, at["bias"][clipped]])
    top = float(np.nanmax(bs[np.isfinite(bs)])) if np.isfinite(bs).any() else 1.0
    ticks = [t for t in specs.BIAS_TICKS if t <= top * 1.1] or [0, 1]
    key = [CURVES[k] for k in sorted({c["k"] for c in curves})] + MARKERS[:2 if len(measured) else 1]
    band = 6 + 14 * len(labels)  # px at the top for the readout lines
    return {
        "name": "curve", "title": title("measured bias vs theory as c moves (symlog; +: at the step shown)", w),
        "signals": [{"name": "names", "value": [label.split(":")[0] for label in labels]}],
        "data": [
            {"name": "curve_theory", "values": curves, "transform": [{"type": "flatten", "fields": ["c", "b"]},
                                                                     {"type": "filter", "expr": "datum.b != null"}]},
            {"name": "curve_sweep", "values": [{"c": float(c), "b": round(float(b), 6), "e": round(float(e), 6)}
                                               for c, b, e in zip(measured.c, measured.bias, measured.stderr)]},
            {"name": "curve_bias", "values": points,
             "transform": [{"type": "flatten", "fields": ["s", "c", "b", "ok"]}]},
            {"name": "curve_head", "source": "curve_bias",
             "transform": [{"type": "filter", "expr": "datum.s === step"}]},
            {"name": "curve_now", "source": "curve_head",
             "transform": [{"type": "filter", "expr": "datum.c != null && datum.b != null"}]},
        ],
        "scales": [
            {"name": "x", "type": "log", "domain": [float(cs.min()), float(cs.max())], "range": [0, {"signal": w}],
             "nice": False},
            {"name": "y", "type": "symlog", "constant": 1e-3, "domain": [0, top * 1.1],
             "range": [{"signal": h}, band], "nice": False, "zero": True},
            {"name": "key", "type": "ordinal", "domain": key,
             "range": ["stroke"] * (len(key) - 2 if len(measured) else len(key) - 1) + ["cross", "circle"]},
        ],
        "axes": [{"orient": "bottom", "scale": "x", "title": "clip threshold c (log)", "format": "~g",
                  "tickCount": 5},
                 {"orient": "left", "scale": "y", "values": ticks, "format": "~g", "grid": True, "gridOpacity": 0.4}],
        "legends": [{"shape": "key", "orient": "none", "legendX": 0, "legendY": {"signal": f"{h} + 40 + {LEGEND_DROP}"},
                     "labelFontSize": 11, "labelLimit": {"signal": f"{w} - 30"}, "symbolStrokeWidth": 1.5,
                     "symbolSize": 160,
                     "encode": {"symbols": {"update": {
                         "stroke": {"value": "#555"}, "fill": {"signal": "datum.value === 'sweep: whole curve "
                                                                         "(static)' ? 'white' : '#555'"},
                         "strokeDash": {"signal": "indexof(datum.value, 'KHS') >= 0 ? [6, 4] : []"}}}}}],
        "marks": [
            {"type": "group", "from": {"facet": {"name": "curve_one", "data": "curve_theory", "groupby": "k"}},
             "clip": True, "encode": {"update": {"width": {"signal": w}, "height": {"signal": h}}},
             "marks": [{"type": "line", "from": {"data": "curve_one"}, "interactive": False, "encode": {"update": {
                 "x": {"scale": "x", "field": "c"}, "y": {"scale": "y", "field": "b"}, "stroke": {"value": "#555"},
                 "strokeWidth": {"value": 1.5}, "strokeDash": {"signal": "datum.k ? [6, 4] : []"}}}}]},
            {"type": "symbol", "from": {"data": "curve_sweep"}, "encode": {"update": {
                "x": {"scale": "x", "field": "c"}, "y": {"scale": "y", "field": "b"}, "size": {"value": 50},
                "stroke": {"value": "#222"}, "strokeWidth": {"value": 1.5}, "fill": {"value": "white"},
                "tooltip": {"signal": "{sweep: 'whole curve', c: format(datum.c, '.3g'), "
                                      "bias: format(datum.b, '.4f'), 'std. error': format(datum.e, '.2g')}"}}}},
            {"type": "symbol", "from": {"data": "curve_now"}, "encode": {"update": {
                "x": {"scale": "x", "field": "c"}, "y": {"scale": "y", "field": "b"}, "shape": {"value": "cross"},
                "size": {"value": 220}, "fill": {"scale": "color", "field": "r"}, "stroke": {"value": "white"},
                "tooltip": {"signal": "{run: names[datum.r], step: datum.s, c: format(datum.c, '.3g'), "
                                      "bias: format(datum.b, '.4f'), status: datum.ok ? 'stationary' : "
                                      "'not yet stationary'}"}}}},
            {"type": "text", "from": {"data": "curve_now"}, "interactive": False, "encode": {"update": {
                "x": {"scale": "x", "field": "c"}, "y": {"scale": "y", "field": "b"}, "dx": {"value": 10},
                "dy": {"value": -10}, "fontSize": {"value": 11}, "fill": {"scale": "color", "field": "r"},
                "text": {"signal": "datum.ok ? '' : 'not yet stationary'"}}}},
            {"type": "text", "from": {"data": "curve_head"}, "interactive": False, "encode": {"update": {
                "x": {"value": 4}, "y": {"signal": "12 + 14 * datum.r"}, "fontSize": {"value": 11},
                "fill": {"scale": "color", "field": "r"}, "limit": {"signal": w},
                "text": {"signal": "names[datum.r] + ': bias ' + (datum.b == null ? '–' : format(datum.b, '.4f'))"
                                   " + (datum.ok ? '' : ' (not yet stationary)')"}}}},
        ],
    }


def server_charts(history, x: torch.Tensor, labels: list[str], changes, theory: float, sign: float, container,
                  notes: dict) -> None:
    """The server player's charts of the live step: the histogram of the chains now (counted on their device:
    only the bin counts come back), the rate and the mean over chains of x_t."""
    count = len(labels)
    marks = [t for t in (-abs(theory), abs(theory)) if math.isfinite(theory)]
    edges = histogram_edges(x[:, 0].reshape(1, -1), marks)
    histogram = ensemble.histograms(x[:, 0].reshape(count, -1), edges[0], edges[-1], bins=BINS).cpu().numpy()
    notes["histogram counts"] = histogram.sum(1).tolist()
    bins = pd.concat([pd.DataFrame({"run": labels[r], "left": edges[:-1], "right": edges[1:], "count": counts,
                                    "zero": 0}) for r, counts in enumerate(histogram)], ignore_index=True)
    lines = [{"x": 0.0, "what": "minimum"}] + ([{"x": sign * theory, "what": "theory"}]
                                               if math.isfinite(theory) and theory > 0 else [])
    left, right = container.columns(2)
    charts.show(specs.histogram_spec(), {"bins": bins, "marks": pd.DataFrame(lines)}, left)
    rms = np.sqrt(2 * history.loss.numpy())
    charts.series(charts.long_frame(rms, labels, column="rms grad"), "rms grad",
                  "the rate: √E‖∇f(x_t)‖² over the chains (log)", labels, log=True, height=300, changes=changes,
                  container=right)
    charts.series(charts.long_frame(history.iterates[:, :, 0].numpy(), labels, column="mean x"), "mean x",
                  "mean over chains of x_t", labels, log=False, height=260, changes=changes, container=container)
