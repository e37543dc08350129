"""Panels for playback in the browser (:mod:`app_pages.browser_player`): Vega group marks that draw the whole
run once and show it up to the signal ``step``, so every panel of a page follows one animation.

A panel is built as ``panel(w, h)`` (the layout passes the names of the signals holding its width and height).
Its data is inline and compact: one row per run (and per kind of line), the steps and values as arrays that
the browser flattens. Its scales are fixed by the whole run (axes never rescale while playing). Colours come
from the top-level ``color`` scale (run index -> colour) that :func:`browser_player.player_spec` defines.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from app_pages import charts

TITLE_CHARS = 34  # a title line: what half of a laptop's chart (~260 px) shows at 12 px
DASHES = [[], [6, 3], [2, 2], [8, 3, 2, 3]]  # one dash pattern per kind of line (e.g. raw vs clipped)


def compact(values: np.ndarray, keep: np.ndarray, diverged_at=None, positive: bool = False,
            cap: float = 1e10) -> list[tuple[list[int], list[float]]]:
    """``values`` [T, R] -> per run (steps, values) at the shown steps ``keep``: finite (and positive for a log
    axis), at most ``cap`` in size, and no step after the run diverged; rounded to 5 significant digits."""
    values = np.asarray(values, dtype=float)
    steps = np.asarray(keep)
    steps = steps[steps < values.shape[0]]
    out = []
    for r in range(values.shape[1]):
        v = values[steps, r]
        ok = np.isfinite(v) & (np.abs(v) <= cap) & ((v > 0) if positive else True)
        if diverged_at is not None and int(diverged_at[r]) >= 0:
            ok &= steps <= int(diverged_at[r])
        out.append(([int(s) for s in steps[ok]], [float(f"{x:.5g}") for x in v[ok]]))
    return out


def series(title: str, lines: list[dict], steps: int, log: bool = True, y_title: str | None = None,
           changes=(), kinds: list[str] = (), name: str = "series"):
    """A panel builder: each line ``{"r": run index, "k": kind index, "s": steps, "v": values}`` drawn up to
    ``step`` in its run's colour (dash by kind, named by ``kinds`` in a small legend), a dot at the step shown,
    a grey rule at that step and dashed rules at the ``changes`` (steps where a setting changed mid-run)."""
    return partial(_series, title, lines, steps, log, y_title, tuple(changes), tuple(kinds), name)


def _series(title, lines, steps, log, y_title, changes, kinds, name, w: str, h: str) -> dict:
    data, shown, head = f"{name}_lines", f"{name}_shown", f"{name}_head"
    values = [v for line in lines for v in line["v"]]
    low, high = (min(values), max(values)) if values else (1.0, 10.0)
    if low == high:
        low, high = (low / 2, high * 2) if log else (low - 1, high + 1)
    y_scale = {"name": "y", "type": "log" if log else "linear", "domain": [low, high], "range": [{"signal": h}, 0],
               "nice": True, "zero": False}
    marks = [
        {"type": "rule", "interactive": False, "encode": {"update": {
            "x": {"scale": "x", "signal": "step"}, "y": {"value": 0}, "y2": {"signal": h},
            "stroke": {"value": "#bbb"}}}},
        {"type": "rule", "from": {"data": f"{name}_changes"}, "encode": {"update": {
            "x": {"scale": "x", "field": "s"}, "y": {"value": 0}, "y2": {"signal": h}, "stroke": {"value": "gray"},
            "strokeDash": {"value": [4, 4]}, "tooltip": {"signal": "'setting changed at step ' + datum.s"}}}},
        {"type": "group", "from": {"facet": {"name": f"{name}_one", "data": shown, "groupby": ["r", "k"]}},
         "clip": True, "encode": {"update": {"width": {"signal": w}, "height": {"signal": h}}},
         "marks": [{"type": "line", "from": {"data": f"{name}_one"}, "interactive": False, "encode": {"update": {
             "x": {"scale": "x", "field": "s"}, "y": {"scale": "y", "field": "v"}, "strokeWidth": {"value": 2},
             "stroke": {"scale": "color", "field": "r"}, "strokeDash": {"scale": "dash", "field": "k"}}}}]},
        {"type": "symbol", "from": {"data": head}, "clip": True, "encode": {"update": {
            "x": {"scale": "x", "field": "s"}, "y": {"scale": "y", "field": "v"}, "size": {"value": 40},
            "fill": {"scale": "color", "field": "r"}, "stroke": {"value": "white"},
            "tooltip": {"signal": "{step: datum.s, value: format(datum.v, '.4g')}"}}}},
    ]
    legends = ([{"strokeDash": "dash", "orient": "top-right", "symbolType": "stroke", "symbolStrokeColor": "#555",
                 "symbolStrokeWidth": 2, "symbolSize": 300, "labelFontSize": 10, "encode": {"labels": {"update": {
                     "text": {"signal": f"{list(kinds)!r}[datum.value]"}}}}}] if len(kinds) > 1 else [])
    return {
        "name": name,
        "title": {"text": charts.wrap_title(title, TITLE_CHARS), "anchor": "start", "fontSize": 12,
                  "limit": {"signal": w}},
        "data": [
            {"name": data, "values": lines, "transform": [{"type": "flatten", "fields": ["s", "v"]}]},
            {"name": shown, "source": data, "transform": [{"type": "filter", "expr": "datum.s <= step"}]},
            {"name": head, "source": shown, "transform": [{"type": "filter", "expr": "datum.s === step"}]},
            {"name": f"{name}_changes", "values": [{"s": int(s)} for s in changes]},
        ],
        "scales": [{"name": "x", "type": "linear", "domain": [0, max(steps, 1)], "range": [0, {"signal": w}],
                    "zero": False, "nice": False},
                   y_scale,
                   {"name": "dash", "type": "ordinal", "domain": list(range(max(len(kinds), 1))),
                    "range": DASHES[:max(len(kinds), 1)]}],
        "axes": [{"orient": "bottom", "scale": "x", "title": "step", "tickCount": 6},
                 {"orient": "left", "scale": "y", "title": y_title, "format": "~e" if log else "~g",
                  "tickCount": 5, "grid": True, "gridOpacity": 0.4}],
        "legends": legends,
        "marks": marks,
    }


def lines_of(values: np.ndarray, keep: np.ndarray, diverged_at=None, positive: bool = False,
             kind: int = 0) -> list[dict]:
    """``values`` [T, R] as :func:`series` lines (one per run, of kind ``kind``)."""
    return [{"r": r, "k": kind, "s": s, "v": v}
            for r, (s, v) in enumerate(compact(values, keep, diverged_at, positive))]
