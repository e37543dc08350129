"""The RNN gradient clipping page's chart for playback in the browser: the runs' paths on the loss surface
E₅₀(w, b), the gradient norm and the loss per step, in one Vega spec following one step
(:mod:`app_pages.browser_player`).

The surface (grey cells, the cliff wall and the zero-loss valley) is sent once per chart; each run's path is
drawn up to the shown step with its current point. A run whose step used an exploded gradient (unclipped, or
clipped with c above the cliff's norm) is thrown off the cliff: its message appears in the chart from that
step on (a text mark filtered by the step), never before and never for a run that only met the cliff.

A click on a surface cell sets the start: the chart's one selection channel is the transport's ``report``
signal (:mod:`app_pages.browser_playback`), so the click is sent through it, as the report with the clicked
cell's centre added (``start``: [w, b]); the page reads it before its sliders are drawn.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from app_pages import browser_player as bp
from app_pages import charts
from app_pages import vega_panels as panels
from steplab.rnn.cliff import EXPLODING_GRAD_NORM, exploded

SURFACE_TITLE = "loss surface E₅₀(w, b), grey: log₁₀ E₅₀ — click a cell to start"  # two title lines
LINE = 13  # px per line of the readouts in the surface's corner (10 px text: a cliff message, ~36 characters,
# fits the ~215 px surface panel of a 1000 px laptop viewport)
GUIDE_COLORS = ["#ff7f0e", "#2ca02c"]  # the cliff wall, the zero-loss valley (as the server chart)
# the report with the clicked cell's centre: what a click on the surface tells the server
CLICK = "{pos: anim.pos, playing: anim.playing, fps: fps, frames: frames, id: spec_id, start: [datum.xc, datum.yc]}"


def cliff_events(history, labels: list[str]) -> list[dict]:
    """Per run, the first step that met the cliff (‖∇E‖ > EXPLODING_GRAD_NORM): ``{r, s, thrown, text, tip}``.
    ``thrown``: that run's step used an exploded gradient (its clipped norm is exploded too: unclipped, or c
    above the cliff's norm); otherwise clipping kept the step short. Runs that never met the cliff have none."""
    grad, used = history.grad_norm.numpy(), history.clipped_grad_norm.numpy()  # [T, R]
    iterates = history.iterates.numpy()
    if not len(grad):
        return []
    jumps = np.linalg.norm(np.diff(iterates, axis=0), axis=-1)  # [T, R]: the length of step k (k -> k + 1)
    raw_hit, used_hit = exploded(history.grad_norm).numpy(), exploded(history.clipped_grad_norm).numpy()
    events = []
    for r, label in enumerate(labels):
        number = label.split(" · ")[0]
        thrown = bool(used_hit[:, r].any())
        if not (thrown or raw_hit[:, r].any()):
            continue
        k = int(np.argmax(used_hit[:, r] if thrown else raw_hit[:, r]))
        what = f"thrown off the cliff at step {k}" if thrown else f"clipped at the cliff, step {k}"
        events.append({"r": r, "s": k, "thrown": thrown, "text": f"{number} · {what}",
                       "tip": f"‖∇E‖ = {grad[k, r]:.3g} > {EXPLODING_GRAD_NORM:g}, used {used[k, r]:.3g}: "
                              f"a step of length {jumps[k, r]:.3g}"})
    return events


def spec(history, labels: list[str], box: tuple, surface: dict, start_wb: tuple[float, float], changes,
         start: dict, spec_id: int, fps: float) -> dict:
    """The page's animated chart for ``history`` (steps 0..T of every run); ``surface``: the static surface
    (:func:`static_surface`, the same for every run: cache it); ``start_wb``: the start (w, b)."""
    iterates, loss = history.iterates.numpy(), history.loss.numpy()
    steps = iterates.shape[0] - 1
    stride = bp.frame_stride(steps)
    keep = bp.shown_steps(steps, stride)
    paths = [{"r": r, "s": keep.tolist(), "w": bp.finite_or_none(iterates[keep, r, 0]),
              "b": bp.finite_or_none(iterates[keep, r, 1]), "e": bp.finite_or_none(loss[keep, r])}
             for r in range(len(labels))]
    grad_lines = []
    for kind, values in enumerate((history.grad_norm.numpy(), history.clipped_grad_norm.numpy())):
        grad_lines += panels.lines_of(values, keep, positive=True, kind=kind)  # row k: the gradient of step k
    surface_panel = partial(surface_group, surface, paths, cliff_events(history, labels), labels, box, start_wb)
    grads = panels.series("gradient norm per step ‖∇E‖: raw vs clipped (log)", grad_lines, steps,
                          kinds=["raw", "clipped"], changes=changes, name="grads")
    loss_panel = panels.series("loss E₅₀ per step (log)", panels.lines_of(loss, keep, positive=True), steps,
                               changes=changes, name="loss")
    rows = [(320, [surface_panel, grads]), (150, [loss_panel])]
    return bp.player_spec(rows, steps, stride, fps=round(fps), start=start, spec_id=spec_id, labels=labels)


def static_surface(cells, guides) -> dict:
    """What the surface panel draws for every run, compact: the cells (columns x1, x2, y1, y2, x, y, value =
    log₁₀ E, grad = ‖∇E‖, as :func:`charts.grid_cells` writes them) as one row per b with arrays along w, the
    cell edges along w and b, and the guide lines (columns w, b, line) as one row per line."""
    cells = cells.sort_values(["y", "x"])
    w_edges = sorted(set(cells.x1)) + [float(cells.x2.max())]
    b_edges = sorted(set(cells.y1)) + [float(cells.y2.max())]
    shape = (len(b_edges) - 1, len(w_edges) - 1)
    z, g = cells.value.to_numpy().reshape(shape), cells.grad.to_numpy().reshape(shape)
    grid = [{"r": i, "z": bp.rounded(z[i], 3), "g": [float(f"{x:.3g}") for x in g[i]]} for i in range(shape[0])]
    names = sorted(guides.line.unique())
    lines = [{"line": names.index(name), "w": bp.rounded(g.w), "b": bp.rounded(g.b)}
             for name, g in guides.groupby("line", sort=True)]
    return {"grid": grid, "w_edges": bp.rounded(w_edges, 5), "b_edges": bp.rounded(b_edges, 5), "lines": lines,
            "names": names}


def xy(field: str, scale: str) -> dict:
    return {"scale": scale, "field": field}


def surface_group(surface: dict, paths: list[dict], events: list[dict], labels, box, start_wb,
                  w: str = "width", h: str = "height") -> dict:
    """The surface panel: grey cells (log₁₀ E₅₀; a click on one reports its centre as the new start), the cliff
    wall and the valley (dashed), each run's path up to the shown step and its point there, the start (red
    diamond), each run's E₅₀ at the step and the cliff messages from their steps on. The axes show ``box``."""
    names = surface["names"]
    fill = {"clip": True, "encode": {"update": {"width": {"signal": w}, "height": {"signal": h}}}}
    rows, up, placed = len(labels), len(labels), []
    for i, event in reversed(list(enumerate(events))):  # a line each above the readouts (bottom-left, where no
        up += 1  # path goes), in run order from the top
        placed.insert(0, {**event, "i": i, "up": up})
    block_top = f"{h} - 6 - {LINE} * max({rows}, length(data('events_shown')) ? " \
                "extent(pluck(data('events_shown'), 'up'))[1] : 0) - 3"
    return {
        "name": "surface",
        "title": {"text": charts.wrap_title(SURFACE_TITLE, panels.TITLE_CHARS), "anchor": "start", "fontSize": 12,
                  "limit": {"signal": w}},
        "signals": [{"name": "we", "value": surface["w_edges"]}, {"name": "be", "value": surface["b_edges"]},
                    {"name": "labels", "value": list(labels)},
                    {"name": "report", "push": "outer", "on": [{"events": "@surface_cells:click", "update": CLICK}]}],
        "data": [
            {"name": "cells", "values": surface["grid"], "transform": [
                {"type": "flatten", "fields": ["z", "g"], "index": "j"},
                {"type": "formula", "as": "x1", "expr": "we[datum.j]"},
                {"type": "formula", "as": "x2", "expr": "we[datum.j + 1]"},
                {"type": "formula", "as": "y1", "expr": "be[datum.r]"},
                {"type": "formula", "as": "y2", "expr": "be[datum.r + 1]"},
                {"type": "formula", "as": "xc", "expr": "(datum.x1 + datum.x2) / 2"},
                {"type": "formula", "as": "yc", "expr": "(datum.y1 + datum.y2) / 2"}]},
            {"name": "guides", "values": surface["lines"], "transform": [{"type": "flatten", "fields": ["w", "b"]}]},
            {"name": "paths", "values": paths, "transform": [{"type": "flatten", "fields": ["s", "w", "b", "e"]}]},
            {"name": "shown", "source": "paths", "transform": [
                {"type": "filter", "expr": "datum.s <= step && datum.w != null && datum.b != null"}]},
            {"name": "head", "source": "shown", "transform": [{"type": "filter", "expr": "datum.s === step"}]},
            {"name": "events", "values": placed},
            {"name": "events_shown", "source": "events", "transform": [{"type": "filter", "expr": "datum.s <= step"}]},
            {"name": "start", "values": [{"w": float(start_wb[0]), "b": float(start_wb[1])}]},
        ],
        "scales": [
            {"name": "x", "domain": [box[0], box[1]], "range": [0, {"signal": w}], "zero": False, "nice": False},
            {"name": "y", "domain": [box[2], box[3]], "range": [{"signal": h}, 0], "zero": False, "nice": False},
            {"name": "grey", "type": "linear", "domain": {"data": "cells", "field": "z"},
             "range": {"scheme": "greys"}, "reverse": True},
            {"name": "guide", "type": "ordinal", "domain": list(range(len(names))), "range": GUIDE_COLORS},
            {"name": "guide_names", "type": "ordinal", "domain": names, "range": GUIDE_COLORS},
        ],  # run colours: the top-level scale "color" (browser_player.player_spec)
        "axes": [{"orient": "bottom", "scale": "x", "title": "w (recurrent weight)", "tickCount": 7, "format": "~g"},
                 {"orient": "left", "scale": "y", "title": "b (bias)", "tickCount": 7, "format": "~g"}],
        "legends": [{"stroke": "guide_names", "orient": "top-right", "symbolType": "stroke",
                     "symbolStrokeWidth": 2, "symbolDash": [5, 3], "labelFontSize": 10, "padding": 4,
                     "fillColor": "rgba(255, 255, 255, 0.85)", "labelLimit": {"signal": f"max({w} - 60, 40)"}}],
        "marks": [
            {"type": "rect", "name": "surface_cells", "from": {"data": "cells"}, "encode": {"update": {
                "x": xy("x1", "x"), "x2": xy("x2", "x"), "y": xy("y1", "y"), "y2": xy("y2", "y"),
                "fill": {"scale": "grey", "field": "z"}, "cursor": {"value": "crosshair"},
                "tooltip": {"signal": "{w: format(datum.xc, '.2f'), b: format(datum.yc, '.2f'), "
                                      "'log₁₀ E': format(datum.z, '.2f'), '‖∇E‖': format(datum.g, '.3g')}"}}}},
            {"type": "group", "from": {"facet": {"name": "guide_one", "data": "guides", "groupby": "line"}}, **fill,
             "marks": [{"type": "line", "from": {"data": "guide_one"}, "interactive": False, "encode": {"update": {
                 "x": xy("w", "x"), "y": xy("b", "y"), "stroke": {"scale": "guide", "field": "line"},
                 "strokeWidth": {"value": 1.5}, "strokeDash": {"value": [5, 3]}}}}]},
            {"type": "group", "from": {"facet": {"name": "run", "data": "shown", "groupby": "r"}}, **fill,
             "marks": [{"type": "line", "name": "runline", "from": {"data": "run"}, "interactive": False,
                        "encode": {"update": {"x": xy("w", "x"), "y": xy("b", "y"), "strokeWidth": {"value": 2.5},
                                              "stroke": {"scale": "color", "field": "r"}}}}]},
            {"type": "symbol", "from": {"data": "start"}, "interactive": False, "encode": {"update": {
                "x": xy("w", "x"), "y": xy("b", "y"), "shape": {"value": "diamond"}, "size": {"value": 160},
                "fill": {"value": "#d62728"}}}},
            {"type": "symbol", "name": "now", "from": {"data": "head"}, "clip": True, "encode": {"update": {
                "x": xy("w", "x"), "y": xy("b", "y"), "size": {"value": 70}, "fill": {"scale": "color", "field": "r"},
                "stroke": {"value": "white"},
                "tooltip": {"signal": "{run: labels[datum.r], step: datum.s, w: format(datum.w, '.3f'), "
                                      "b: format(datum.b, '.3f'), E: format(datum.e, '.3g')}"}}}},
            {"type": "rect", "interactive": False, "encode": {"update": {  # a light box under the readouts
                "x": {"value": 2}, "y": {"signal": block_top}, "x2": {"signal": f"min({w} - 2, 205)"},
                "y2": {"signal": f"{h} - 2"}, "fill": {"value": "white"}, "opacity": {"value": 0.85}}}},
            {"type": "text", "name": "readout", "from": {"data": "head"}, "interactive": False, "encode": {"update": {
                "x": {"value": 6}, "y": {"signal": f"{h} - 6 - {LINE} * ({rows} - datum.r)"},
                "baseline": {"value": "top"}, "fontSize": {"value": 10},
                "fill": {"scale": "color", "field": "r"}, "fontWeight": {"value": "bold"},
                "limit": {"signal": f"{w} - 12"},
                "text": {"signal": "split(labels[datum.r], ':')[0] + ': E₅₀ = ' + format(datum.e, '.3g')"}}}},
            {"type": "text", "name": "cliff", "from": {"data": "events_shown"}, "encode": {"update": {
                "x": {"value": 6}, "y": {"signal": f"{h} - 6 - {LINE} * datum.up"}, "baseline": {"value": "top"},
                "fontSize": {"value": 10}, "fill": {"signal": "datum.thrown ? '#b00020' : '#333'"},
                "fontWeight": {"value": "bold"}, "limit": {"signal": f"{w} - 12"}, "text": {"field": "text"},
                "tooltip": {"field": "tip"}}}},
        ],
    }
