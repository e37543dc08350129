"""The large-step logistic regression page's chart for playback in the browser: each run's decision boundary on
the data, and its loss, normalized margin, training accuracy, gradient norm and normalized step r_t, all in one
Vega spec following one step (:mod:`app_pages.browser_player`).

The data points are static; a run's boundary is the line through the origin perpendicular to θ_t at the step
shown. The diamonds "stays separated from here on" are drawn whole: they say where each run ends up (the whole
run), not where it is now.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from app_pages import browser_player as bp
from app_pages import charts
from app_pages import vega_panels as panels
from app_pages.playground_vega import equal_aspect_domains

BOUNDARY_TITLE = "decision boundaries θ_tᵀa = 0 (●: y = +1, ■: y = −1)"
ROWS = (320, 180, 180)  # px: boundaries | loss (the taller panel), margin | accuracy, gradient norm | r_t


def boundary_ends(theta: np.ndarray, keep: np.ndarray, reach: float) -> list[dict]:
    """One row per run: at the shown steps ``keep`` where θ_t ≠ 0 is finite, the end (x, y) of the boundary
    θ_tᵀa = 0 at distance ``reach`` from the origin (the other end is −(x, y)): ``reach`` x (−θ₂, θ₁) / ‖θ_t‖."""
    rows = []
    for r in range(theta.shape[1]):
        steps = keep[keep < theta.shape[0]]
        vectors = theta[steps, r]
        norm = np.linalg.norm(vectors, axis=-1)
        ok = np.isfinite(norm) & (norm > 0)
        ends = np.stack([-vectors[ok, 1], vectors[ok, 0]], axis=-1) / norm[ok, None] * reach
        rows.append({"r": r, "s": [int(s) for s in steps[ok]], "x": bp.rounded(ends[:, 0]),
                     "y": bp.rounded(ends[:, 1])})
    return rows


def boundary_group(features: np.ndarray, signs: np.ndarray, ends: list[dict], kinds: list[int], labels: list[str],
                   box: float, readout: list[dict] = (), w: str = "width", h: str = "height") -> dict:
    """The boundaries panel: the data (● y = +1, ■ y = −1, static) and each run's boundary line at the step shown
    (dashed: the Batch Perceptron, ``kinds`` = 1), on equal axes over [−box, box]²; in the top-left corner each
    run's accuracy and loss at that step (``readout``: rows {r, s, a, f}, f = null where the loss overflowed)."""
    points = sorted({(round(float(x), 5), round(float(y), 5), int(s > 0)) for (x, y), s in zip(features, signs)})
    x_domain, y_domain = equal_aspect_domains((-box, box, -box, box), w, h)  # a boundary's angle is the one drawn
    line = {"x": {"scale": "x", "signal": "-datum.x"}, "y": {"scale": "y", "signal": "-datum.y"},
            "x2": {"scale": "x", "field": "x"}, "y2": {"scale": "y", "field": "y"}}
    return {
        "name": "boundaries",
        "title": {"text": charts.wrap_title(BOUNDARY_TITLE, panels.TITLE_CHARS), "anchor": "start", "fontSize": 12,
                  "limit": {"signal": w}},
        "data": [
            {"name": "points", "values": [{"x": x, "y": y, "c": c} for x, y, c in points]},
            {"name": "lines", "values": [{**row, "k": kinds[row["r"]]} for row in ends],
             "transform": [{"type": "flatten", "fields": ["s", "x", "y"]}]},
            {"name": "lines_head", "source": "lines", "transform": [{"type": "filter", "expr": "datum.s === step"}]},
            {"name": "readout", "values": list(readout), "transform": [{"type": "flatten", "fields": ["s", "a", "f"]}]},
            {"name": "readout_head", "source": "readout",
             "transform": [{"type": "filter", "expr": "datum.s === step"}]},
        ],
        "scales": [
            {"name": "x", "domain": {"signal": x_domain}, "range": [0, {"signal": w}], "zero": False, "nice": False},
            {"name": "y", "domain": {"signal": y_domain}, "range": [{"signal": h}, 0], "zero": False, "nice": False},
            {"name": "shape", "type": "ordinal", "domain": [1, 0], "range": ["circle", "square"]},
            {"name": "dash", "type": "ordinal", "domain": [0, 1], "range": [[], [6, 3]]},
        ],  # run colours: the top-level scale "color" (browser_player.player_spec)
        "axes": [{"orient": "bottom", "scale": "x", "title": "a₁", "tickCount": 5},
                 {"orient": "left", "scale": "y", "title": "a₂", "tickCount": 5}],
        "marks": [
            {"type": "symbol", "from": {"data": "points"}, "encode": {"update": {
                "x": {"scale": "x", "field": "x"}, "y": {"scale": "y", "field": "y"}, "size": {"value": 70},
                "shape": {"scale": "shape", "field": "c"}, "fill": {"value": "#444"}, "opacity": {"value": 0.8},
                "tooltip": {"signal": "{label: datum.c ? 'y = +1' : 'y = −1', x: datum.x, y: datum.y}"}}}},
            {"type": "rule", "name": "boundary", "from": {"data": "lines_head"}, "clip": True, "encode": {"update": {
                **line, "stroke": {"scale": "color", "field": "r"}, "strokeWidth": {"value": 2.5},
                "strokeDash": {"scale": "dash", "field": "k"},
                "tooltip": {"signal": "{run: labels[datum.r], step: datum.s}"}}}},
            {"type": "text", "name": "readouts", "from": {"data": "readout_head"}, "interactive": False,
             "encode": {"update": {
                 "x": {"value": 4}, "y": {"signal": "11 + 12 * datum.r"}, "fontSize": {"value": 10},
                 "fill": {"scale": "color", "field": "r"}, "fontWeight": {"value": "bold"},
                 "text": {"signal": "split(labels[datum.r], ' · ')[0] + ': accuracy ' + format(datum.a, '.2f') + "
                                    "(datum.f == null ? ', f overflowed' : ', f = ' "
                                    "+ format(datum.f, datum.f < 1e-3 ? '.2e' : '.3g'))"}}}},
        ],
        "signals": [{"name": "labels", "value": list(labels)}],
    }


def with_markers(build, markers: list[dict], name: str):
    """A :func:`vega_panels.series` panel with static diamonds at ``markers`` ({r, run, s, v}), drawn whole."""

    def panel(w: str, h: str) -> dict:
        group = build(w, h)
        group["data"].append({"name": f"{name}_markers", "values": markers})
        group["marks"].append({"type": "symbol", "name": f"{name}_diamonds", "from": {"data": f"{name}_markers"},
                               "encode": {"update": {
                                   "x": {"scale": "x", "field": "s"}, "y": {"scale": "y", "field": "v"},
                                   "shape": {"value": "diamond"}, "size": {"value": 90},
                                   "fill": {"scale": "color", "field": "r"}, "stroke": {"value": "white"},
                                   "tooltip": {"signal": "datum.run + ': stays separated from t = ' + datum.s"}}}})
        return group

    return panel


def spec(features: np.ndarray, signs: np.ndarray, theta: np.ndarray, values: dict, labels: list[str],
         kinds: list[int], markers: list[dict], diverged_at: np.ndarray, changes, start: dict, spec_id: int,
         fps: float) -> dict:
    """The page's animated chart for the drawn runs: ``theta`` [T+1, R, 2], ``values`` = {loss, margin,
    accuracy, grad_norm: [T+1, R]; r: [T, R]}, ``kinds`` per run (0: LR, 1: Batch Perceptron), ``markers`` the
    accuracy panel's diamonds, ``changes`` the steps where a setting changed mid-run."""
    steps = theta.shape[0] - 1
    stride = bp.frame_stride(steps)
    keep = bp.shown_steps(steps, stride)
    box = round(float(np.abs(features).max() * 1.25), 3)
    ends = boundary_ends(theta, keep, 4 * box)  # past the panel's corners at any width (the rule is clipped)
    readout = [{"r": r, "s": keep.tolist(), "a": bp.rounded(values["accuracy"][keep, r], 3),
                "f": [float(f"{f:.4g}") if np.isfinite(f) else None for f in values["loss"][keep, r]]}
               for r in range(theta.shape[1])]

    def lines(name: str, positive: bool) -> list[dict]:
        return panels.lines_of(values[name], keep, diverged_at, positive)

    series = partial(panels.series, steps=steps, changes=changes)
    rows = [
        (ROWS[0], [partial(boundary_group, features, signs, ends, kinds, labels, box, readout),
                   series("loss f(θ_t) (log)", lines("loss", True), name="loss")]),
        (ROWS[1], [series("normalized margin min_i y_i a_iᵀθ_t / ‖θ_t‖ (> 0: separated)", lines("margin", False),
                          log=False, name="margin"),
                   with_markers(series("training accuracy (◆: stays separated from here on)",
                                       lines("accuracy", False), log=False, name="accuracy"), markers, "accuracy")]),
        (ROWS[2], [series("gradient norm ‖∇f(θ_t)‖ (log)", lines("grad_norm", True), name="grads"),
                   series("normalized step r_t (log; > 1: beyond the convergence radius)", lines("r", True),
                          name="steps")]),
    ]
    return close_x_titles(bp.player_spec(rows, steps, stride, fps=round(fps), start=start, spec_id=spec_id,
                                         labels=labels))


def close_x_titles(spec: dict, padding: int = 2) -> dict:
    """The panels' x-axis titles close under their labels: Streamlit's theme pads them so far down that they met
    the next row's (two-line) panel titles."""
    for mark in spec["marks"]:
        for axis in mark.get("axes", []) if mark.get("type") == "group" else []:
            if axis["orient"] == "bottom":
                axis.update(titlePadding=padding, labelPadding=padding)
    return spec
