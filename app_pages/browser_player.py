"""Playback in the browser: a whole trajectory is sent once and Vega's own timer animates it, so a playing
chart costs the server nothing (no rerun, no WebSocket message per frame).

Why a Vega spec and not Vega-Lite: the Vega-Lite bundled with Streamlit 1.67 (6.5) animates only through its
``time`` channel, which plays from load, loops, has no pause or scrub (its ``is_playing`` signal cannot be
bound: a parameter of that name is a duplicate signal) and is not supported in layered charts. Vega-Lite
parameters hold no state. Vega signals do: one signal ``anim`` = {pos, t, playing} is updated by a timer
event, a click on the play button and a drag on the scrub bar, all drawn inside the chart, so the step counter
and the bar follow the animation. ``st.vega_lite_chart`` draws such a spec as Vega (vega-embed picks the
mode from ``$schema``); Streamlit moves a top-level ``data`` out of the spec, so the data sets live in the plot
group, inline and compact (one row per run or grid row, flattened in the browser). Everything is bundled with
Streamlit: it works offline.

:func:`player_spec` wraps any Vega group in the transport (signals ``step``/``n`` for its marks to use);
:func:`contour` is the Playground's path on the loss landscape built on it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import streamlit as st

from app_pages import charts
from app_pages import playground_views as views

VEGA_SCHEMA = "https://vega.github.io/schema/vega/v6.json"
FPS = 24  # default frames per second; the speed slider goes from 1 to 60
MAX_FRAMES = 250  # longer runs are shown every k-th step (k = ceil(steps / MAX_FRAMES)) and at the last step
BAR = 40  # the transport strip's height above the plot, px

ADVANCE = ("anim.playing ? {pos: min(anim.pos + (now() - anim.t) * fps / 1000, frames), t: now(), "
           "playing: anim.pos < frames} : anim")  # elapsed time x speed: a slow redraw skips frames, never lags
TOGGLE = "{pos: !anim.playing && anim.pos >= frames ? 0 : anim.pos, t: now(), playing: !anim.playing}"
SCRUB = "{pos: clamp(round(invert('scrub', x())), 0, frames), t: now(), playing: anim.playing}"


def frame_stride(steps: int, max_frames: int = MAX_FRAMES) -> int:
    """Steps per frame: 1 up to ``max_frames`` steps, else the smallest k giving at most that many frames."""
    if steps < 0 or max_frames < 1:
        raise ValueError(f"steps must be >= 0 and max_frames >= 1, got {steps} and {max_frames}")
    return max(1, -(-steps // max_frames))


def shown_steps(steps: int, stride: int) -> np.ndarray:
    """The steps a frame shows: 0, k, 2k, ... and the last step."""
    return np.unique(np.append(np.arange(0, steps + 1, stride), steps))


def transport(steps: int, stride: int, fps: int = FPS) -> tuple[list[dict], list[dict]]:
    """Signals and marks of the play button, the scrub bar and the step counter (drawn above the plot).

    ``step`` (the step shown) = min(frame x ``stride``, ``steps``); ``frames`` = the number of frames - 1.
    """
    frames = -(-steps // stride)
    signals = [
        {"name": "n", "value": steps},
        {"name": "stride", "value": stride},
        {"name": "frames", "value": frames},
        {"name": "fps", "value": fps,
         "bind": {"input": "range", "min": 1, "max": 60, "step": 1, "name": "playback speed (frames/s) "}},
        {"name": "anim", "value": {"pos": 0, "t": 0, "playing": False},
         "on": [{"events": "timer{16}", "update": ADVANCE}, {"events": "@play:click", "update": TOGGLE},
                {"events": "@track:pointerdown, [@track:pointerdown, window:pointerup] > window:pointermove",
                 "update": SCRUB}]},
        {"name": "step", "update": "min(floor(anim.pos) * stride, n)"},
    ]
    strip = {"y": {"value": -BAR + 8}, "height": {"value": 12}}
    marks = [
        {"type": "symbol", "name": "play", "encode": {"update": {
            "x": {"value": 10}, "y": {"value": -BAR + 14}, "size": {"value": 240}, "fill": {"value": "#333"},
            "shape": {"signal": "anim.playing ? 'square' : 'triangle-right'"}, "cursor": {"value": "pointer"},
            "tooltip": {"signal": "anim.playing ? 'pause' : 'play'"}}}},
        {"type": "rect", "name": "track", "encode": {"update": {
            "x": {"value": 30}, "x2": {"signal": "width"}, "fill": {"value": "#e4e4e4"},
            "cursor": {"value": "ew-resize"}, **strip}}},
        {"type": "rect", "name": "done", "interactive": False, "encode": {"update": {
            "x": {"value": 30}, "x2": {"scale": "scrub", "signal": "floor(anim.pos)"}, "fill": {"value": "#999"},
            **strip}}},
        {"type": "text", "name": "counter", "interactive": False, "encode": {"update": {
            "x": {"signal": "width"}, "y": {"value": -BAR + 4}, "align": {"value": "right"}, "fontSize": {"value": 12},
            "text": {"signal": "'step ' + step + ' / ' + n + (anim.playing ? ' · playing' : '')"}}}},
    ]
    return signals, marks


def player_spec(plot: dict, steps: int, stride: int, height: int, fps: int = FPS,
                signals: list[dict] = ()) -> dict:
    """A Vega spec: the transport above ``plot`` (a group mark; its marks may use the signals ``step`` and ``n``,
    and ``signals`` are added at the top level)."""
    transport_signals, marks = transport(steps, stride, fps)
    plot = {**plot, "type": "group", "name": "plot",
            "encode": {"update": {"width": {"signal": "width"}, "height": {"signal": "height"}}}}
    return {"$schema": VEGA_SCHEMA, "width": 400, "height": height,
            "autosize": {"type": "fit-x", "contains": "padding"},
            "signals": transport_signals + list(signals),
            "scales": [{"name": "scrub", "domain": [0, {"signal": "frames"}], "range": [30, {"signal": "width"}],
                        "clamp": True, "zero": False}],
            "marks": marks + [plot]}


def arrow_frame(data: bytes) -> pd.DataFrame:
    """An Arrow IPC stream (as :func:`charts.arrow` writes it) back as a data frame."""
    return pa.ipc.open_stream(data).read_all().to_pandas()


def rounded(values, digits: int = 4) -> list:
    return np.round(np.asarray(values, dtype=float), digits).tolist()


def finite_or_none(values) -> list:
    """Numbers for JSON: a non-finite value (overflowed loss) becomes null (``NaN`` is not JSON)."""
    return [float(x) if np.isfinite(x) else None for x in np.asarray(values, dtype=float)]


def equal_aspect_domains(box: tuple) -> tuple[str, str]:
    """Vega expressions for x and y domains showing ``box`` with one unit as long on both axes
    (the Vega form of :func:`charts.equal_aspect`)."""
    x0, x1, y0, y1 = map(float, box)
    cx, cy, hx, hy = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2, (y1 - y0) / 2
    ratio = f"((height / max(width, 1)) / {hy / hx!r})"
    return (f"[{cx!r} - {hx!r} * max(1, 1 / {ratio}), {cx!r} + {hx!r} * max(1, 1 / {ratio})]",
            f"[{cy!r} - {hy!r} * max(1, {ratio}), {cy!r} + {hy!r} * max(1, {ratio})]")


FILL = {"clip": True, "encode": {"update": {"width": {"signal": "width"}, "height": {"signal": "height"}}}}
# a facet group as large as the plot, clipping its lines to it


def xy(field: str, scale: str = "x") -> dict:
    return {"scale": scale, "field": field}


def contour(problem, v: dict, iterates: np.ndarray, loss: np.ndarray, diverged_at, labels, container=None,
            fps: int = FPS) -> None:
    """The Playground's path on the loss landscape, animated in the browser: grey log f cells and iso-lines
    (the same cached data as :func:`views.contour`), each run's path up to the shown step, its current point
    and its loss there (text beside the plot), the minimum as a diamond; the view never rescales."""
    box = views.plot_box(v["problem"], v["x0"], v["y0"])
    lam = (min(v["lam1"], v["lam2"]), max(v["lam1"], v["lam2"]))
    cells, iso = (arrow_frame(data) for data in views.contour_data(v["problem"], lam, v["rotation"],
                                                                     charts.surround(box)))
    steps = iterates.shape[0] - 1
    stride = frame_stride(steps)
    keep = shown_steps(steps, stride)
    path = charts.long_frame(loss[keep], list(range(len(labels))), diverged_at=None, column="f",
                             extra={"x": iterates[keep, :, 0], "y": iterates[keep, :, 1]})
    path["step"] = keep[path.step.to_numpy()]  # row index -> the step it shows
    dropped = np.asarray(diverged_at)[path.run.to_numpy().astype(int)]
    path = path[((dropped < 0) | (path.step <= dropped)) & np.isfinite(path[["x", "y"]]).all(axis=1)
                & (path[["x", "y"]].abs() < 1e6).all(axis=1)]
    spec = player_spec(contour_group(cells, iso, path, labels, problem.minimizer.cpu().numpy(), box),
                       steps, stride, height=380, fps=fps)
    (container or st).vega_lite_chart(spec, width="stretch")


def contour_group(cells: pd.DataFrame, iso: pd.DataFrame, path: pd.DataFrame, labels, star, box) -> dict:
    """The plot group of :func:`contour` (data inline: one row per grid row, iso-line and run)."""
    cells = cells.sort_values(["y", "x"])
    x_edges = sorted(set(cells.x1)) + [float(cells.x2.max())]
    y_edges = sorted(set(cells.y1)) + [float(cells.y2.max())]
    z = cells.value.to_numpy().reshape(len(y_edges) - 1, len(x_edges) - 1)
    grid = [{"r": i, "z": rounded(row, 3)} for i, row in enumerate(z)]
    lines = [{"x": rounded(g.sort_values("order").x), "y": rounded(g.sort_values("order").y), "seg": k}
             for k, (_, g) in enumerate(iso.groupby("level", sort=False))]
    runs = [{"r": int(r), "s": g.step.tolist(), "x": rounded(g.x, 5), "y": rounded(g.y, 5), "f": finite_or_none(g.f)}
            for r, g in path.groupby("run")]
    colors = [charts.RUN_COLORS[i % len(charts.RUN_COLORS)] for i in range(len(labels))]
    x_domain, y_domain = equal_aspect_domains(box)
    return {
        "signals": [{"name": "xe", "value": rounded(x_edges, 5)}, {"name": "ye", "value": rounded(y_edges, 5)},
                    {"name": "labels", "value": list(labels)}],
        "data": [
            {"name": "grid", "values": grid, "transform": [
                {"type": "flatten", "fields": ["z"], "index": "j"},
                {"type": "formula", "as": "x1", "expr": "xe[datum.j]"},
                {"type": "formula", "as": "x2", "expr": "xe[datum.j + 1]"},
                {"type": "formula", "as": "y1", "expr": "ye[datum.r]"},
                {"type": "formula", "as": "y2", "expr": "ye[datum.r + 1]"}]},
            {"name": "iso", "values": lines, "transform": [{"type": "flatten", "fields": ["x", "y"], "index": "o"}]},
            {"name": "paths", "values": runs, "transform": [{"type": "flatten", "fields": ["s", "x", "y", "f"]}]},
            {"name": "shown", "source": "paths", "transform": [{"type": "filter", "expr": "datum.s <= step"}]},
            {"name": "head", "source": "shown", "transform": [{"type": "filter", "expr": "datum.s === step"}]},
            {"name": "optimum", "values": [{"x": float(star[0]), "y": float(star[1])}]},
        ],
        "scales": [
            {"name": "x", "domain": {"signal": x_domain}, "range": "width", "zero": False, "nice": False},
            {"name": "y", "domain": {"signal": y_domain}, "range": "height", "zero": False, "nice": False},
            {"name": "cx", "domain": {"signal": x_domain}, "range": "width", "zero": False, "nice": False,
             "clamp": True},  # the cells cover twice the box: clamped, they never widen the chart's bounds
            {"name": "cy", "domain": {"signal": y_domain}, "range": "height", "zero": False, "nice": False,
             "clamp": True},
            {"name": "grey", "type": "linear", "domain": {"data": "grid", "field": "z"}, "range": {"scheme": "greys"}},
            {"name": "color", "type": "ordinal", "domain": list(range(len(labels))), "range": colors},
            {"name": "runs", "type": "ordinal", "domain": list(labels), "range": colors},
        ],
        "axes": [{"orient": "bottom", "scale": "x", "title": "x"}, {"orient": "left", "scale": "y", "title": "y"}],
        "legends": [{"fill": "runs", "orient": "bottom", "direction": "vertical",
                     "labelLimit": {"signal": "max(width - 30, 60)"},  # an ellipsis, not a cut, when narrow
                     "symbolType": "circle"}],
        "marks": [
            {"type": "rect", "from": {"data": "grid"}, "clip": True, "interactive": False, "encode": {"update": {
                "x": xy("x1", "cx"), "x2": xy("x2", "cx"), "y": xy("y1", "cy"), "y2": xy("y2", "cy"),
                "fill": {"scale": "grey", "field": "z"}, "opacity": {"value": 0.55}}}},
            {"type": "group", "from": {"facet": {"name": "segment", "data": "iso", "groupby": "seg"}}, **FILL,
             "marks": [{"type": "line", "from": {"data": "segment"}, "interactive": False,
                        "encode": {"update": {"x": xy("x"), "y": xy("y", "y"), "stroke": {"value": "white"},
                                              "strokeWidth": {"value": 0.8}, "strokeOpacity": {"value": 0.9}}}}]},
            {"type": "group", "from": {"facet": {"name": "run", "data": "shown", "groupby": "r"}}, **FILL,
             "marks": [{"type": "line", "name": "runline", "from": {"data": "run"}, "interactive": False,
                        "encode": {"update": {"x": xy("x"), "y": xy("y", "y"), "strokeWidth": {"value": 2},
                                              "stroke": {"scale": "color", "field": "r"}}}}]},
            {"type": "symbol", "name": "now", "from": {"data": "head"}, "clip": True, "encode": {"update": {
                "x": xy("x"), "y": xy("y", "y"), "size": {"value": 70}, "fill": {"scale": "color", "field": "r"},
                "stroke": {"value": "white"},
                "tooltip": {"signal": "{run: labels[datum.r], step: datum.s, x: format(datum.x, '.3f'), "
                                      "y: format(datum.y, '.3f'), "
                                      "loss: datum.f == null ? 'overflow' : format(datum.f, '.4g')}"}}}},
            {"type": "symbol", "from": {"data": "optimum"}, "interactive": False, "encode": {"update": {
                "x": xy("x"), "y": xy("y", "y"), "shape": {"value": "diamond"}, "size": {"value": 120},
                "fill": {"value": "black"}}}},
            {"type": "text", "name": "readout", "from": {"data": "head"}, "interactive": False, "encode": {"update": {
                "x": {"value": 6}, "y": {"signal": "14 + 15 * datum.r"}, "fontSize": {"value": 11},
                "fill": {"scale": "color", "field": "r"}, "fontWeight": {"value": "bold"},
                "text": {"signal": "split(labels[datum.r], ':')[0] + (datum.f == null ? ': f overflowed' "
                                   ": ': f = ' + format(datum.f, '.4g'))"}}}},
        ],
    }
