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

Why not Plotly animation frames or a custom component: Plotly is not bundled (a new dependency, and its
frames re-plot every trace), and a custom component would ship its own copy of Vega; this uses what Streamlit
already serves. The one thing a chart cannot do by itself is tell the server where it is; it does so only on
a user's transport action, through Streamlit's chart selections (signal ``report``; the server's side is
:mod:`app_pages.browser_playback`).

:func:`player_spec` lays out panels (Vega groups, :mod:`app_pages.vega_panels`) under one transport; their marks
use the signals ``step`` (the step shown) and ``n`` (the last step).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from app_pages import charts

VEGA_SCHEMA = "https://vega.github.io/schema/vega/v6.json"
FPS = 24  # default frames per second; the speed slider goes from 1 to 60
MAX_FRAMES = 250  # longer runs are shown every k-th step (k = ceil(steps / MAX_FRAMES)) and at the last step
BAR = 40  # the transport strip's height above the plot, px

# elapsed time x speed: a slow redraw skips frames, never lags (t = -1: the first tick of a chart drawn playing)
ADVANCE = ("anim.playing ? {pos: min(anim.pos + (anim.t < 0 ? 0 : now() - anim.t) * fps / 1000, frames), "
           "t: now(), playing: anim.pos < frames} : anim")
TOGGLE = "{pos: !anim.playing && anim.pos >= frames ? 0 : anim.pos, t: now(), playing: !anim.playing}"
SCRUB = "{pos: clamp(round(invert('scrub', x())), 0, frames), t: now(), playing: anim.playing}"
REPORT = "{pos: anim.pos, playing: anim.playing, fps: fps, frames: frames, id: spec_id}"
# what the chart tells the server, only on a user's transport action (see app_pages.browser_playback)
# a click on play/pause; the end of a click or drag on the scrub bar (any pointerup in the chart but the play
# button's own, so that a press on play sends one report, not two: two reruns, the second one late)
REPORT_EVENTS = "@play:click, pointerup[!item() || item().mark.name !== 'play']"


def frame_stride(steps: int, max_frames: int = MAX_FRAMES) -> int:
    """Steps per frame: 1 up to ``max_frames`` steps, else the smallest k giving at most that many frames."""
    if steps < 0 or max_frames < 1:
        raise ValueError(f"steps must be >= 0 and max_frames >= 1, got {steps} and {max_frames}")
    return max(1, -(-steps // max_frames))


def last_frame(steps: int) -> int:
    """The index of a run's last frame (the number of frames - 1) at :func:`frame_stride`'s stride."""
    return -(-steps // frame_stride(steps))


def shown_steps(steps: int, stride: int) -> np.ndarray:
    """The steps a frame shows: 0, k, 2k, ... and the last step."""
    return np.unique(np.append(np.arange(0, steps + 1, stride), steps))


def transport(steps: int, stride: int, fps: int = FPS, start: dict | None = None,
              spec_id: int = 0) -> tuple[list[dict], list[dict]]:
    """Signals and marks of the play button, the scrub bar and the step counter (drawn above the plot).

    ``step`` (the step shown) = min(frame x ``stride``, ``steps``); ``frames`` = the number of frames - 1.
    ``start`` = {pos: frame, playing: bool}: where the animation begins when the chart is drawn (default: frame 0,
    paused). ``report`` changes only on a user's play/pause/scrub/speed action: {pos, playing, fps, frames, id}
    (``id`` = ``spec_id``, so the server can tell a report about this chart from one about an older one).
    """
    start = {"pos": 0, "playing": False} if start is None else start
    frames = -(-steps // stride)
    signals = [
        {"name": "n", "value": steps},
        {"name": "stride", "value": stride},
        {"name": "frames", "value": frames},
        {"name": "fps", "value": fps,
         "bind": {"input": "range", "min": 1, "max": 60, "step": 1, "name": "playback speed (frames/s) "}},
        {"name": "spec_id", "value": spec_id},
        {"name": "anim", "value": {"pos": float(min(max(start["pos"], 0), frames)), "t": -1,
                                   "playing": bool(start["playing"]) and start["pos"] < frames},
         "on": [{"events": "timer{16}", "update": ADVANCE}, {"events": "@play:click", "update": TOGGLE},
                {"events": "@track:pointerdown, [@track:pointerdown, window:pointerup] > window:pointermove",
                 "update": SCRUB}]},
        {"name": "step", "update": "min(floor(anim.pos) * stride, n)"},
        {"name": "report", "value": None,
         "on": [{"events": REPORT_EVENTS, "update": REPORT}, {"events": {"signal": "fps"}, "update": REPORT}]},
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


GAP_X = 48  # px between the panels of a row (room for the right panel's y axis labels)
ROW_GAP = 96  # px between rows: the upper row's x axis and the lower row's title (two lines)
TITLE = 36  # px above the first row for its panels' titles, two lines (the transport strip is above)


def player_spec(rows: list[tuple[int, list]], steps: int, stride: int, fps: int = FPS, signals: list[dict] = (),
                start: dict | None = None, spec_id: int = 0, labels: list[str] = (),
                scales: list[dict] = ()) -> dict:
    """A Vega spec: the transport above panels that all follow one ``step``.

    ``rows`` = [(height in px, [panel, ...]), ...], one or two panels a row; a panel is ``build(w, h) -> group``
    (a Vega group mark whose marks may use the signals ``step`` and ``n`` and whose size is the signals named
    ``w`` and ``h``). ``labels`` (the runs' names) give the top-level scales ``color`` (run index -> colour) and
    ``runs`` (label -> colour, drawn as one legend under the panels). ``signals``/``scales`` are added at the top.
    """
    transport_signals, marks = transport(steps, stride, fps, start, spec_id)
    layout_signals = [{"name": "w1", "update": "width"}, {"name": "w2", "update": f"max((width - {GAP_X}) / 2, 60)"}]
    panels, top = [], TITLE
    for i, (height, builders) in enumerate(rows):
        if not 1 <= len(builders) <= 2:
            raise ValueError(f"a row holds one or two panels, got {len(builders)}")
        layout_signals.append({"name": f"h{i}", "value": height})
        w = f"w{len(builders)}"
        for j, build in enumerate(builders):
            group = build(w, f"h{i}")
            panels.append({**group, "type": "group", "name": group.get("name", f"panel{i}{j}"),
                           "encode": {"update": {"x": {"signal": f"{j} * ({w} + {GAP_X})"}, "y": {"value": top},
                                                 "width": {"signal": w}, "height": {"signal": f"h{i}"}}}})
        top += height + ROW_GAP
    colors = [charts.RUN_COLORS[i % len(charts.RUN_COLORS)] for i in range(len(labels))]
    run_scales = [{"name": "color", "type": "ordinal", "domain": list(range(len(labels))), "range": colors},
                  {"name": "runs", "type": "ordinal", "domain": list(labels), "range": colors}] if labels else []
    legends = [{"fill": "runs", "orient": "none", "direction": "vertical", "legendX": 0, "legendY": top - ROW_GAP + 40,
                "labelLimit": {"signal": "max(width - 30, 60)"},  # an ellipsis, not a cut, when narrow
                "symbolType": "circle"}] if labels else []
    return {"$schema": VEGA_SCHEMA, "width": 400, "height": top - ROW_GAP + (44 + 18 * len(labels) if labels else 0),
            "autosize": {"type": "fit-x", "contains": "padding"},
            "signals": transport_signals + layout_signals + list(signals),
            "scales": [{"name": "scrub", "domain": [0, {"signal": "frames"}], "range": [30, {"signal": "width"}],
                        "clamp": True, "zero": False}] + run_scales + list(scales),
            "legends": legends,
            "marks": marks + panels}


def arrow_frame(data: bytes) -> pd.DataFrame:
    """An Arrow IPC stream (as :func:`charts.arrow` writes it) back as a data frame."""
    return pa.ipc.open_stream(data).read_all().to_pandas()


def rounded(values, digits: int = 4) -> list:
    return np.round(np.asarray(values, dtype=float), digits).tolist()


def finite_or_none(values) -> list:
    """Numbers for JSON: a non-finite value (overflowed loss) becomes null (``NaN`` is not JSON)."""
    return [float(x) if np.isfinite(x) else None for x in np.asarray(values, dtype=float)]
