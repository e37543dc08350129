"""The Playground's chart for playback in the browser: the path on the loss landscape, each eigen-direction's
error, the loss and the gradient norms, all in one Vega spec following one step (:mod:`app_pages.browser_player`).
"""

from __future__ import annotations

import base64
import functools
import io
from functools import partial

import numpy as np
import pandas as pd
from matplotlib import image as mpimage

from app_pages import browser_player as bp
from app_pages import charts
from app_pages import playground_views as views
from app_pages import vega_panels as panels


def spec(problem, v: dict, history, labels, changes, start: dict, spec_id: int, fps: float) -> dict:
    """The whole page's animated chart for a run ``history`` (steps 0..T of every run)."""
    iterates, loss = history.iterates.numpy(), history.loss.numpy()
    diverged_at = history.diverged_at.numpy()
    steps = iterates.shape[0] - 1
    stride = bp.frame_stride(steps)
    keep = bp.shown_steps(steps, stride)
    box = views.plot_box(v["problem"], v["x0"], v["y0"])
    lam = (min(v["lam1"], v["lam2"]), max(v["lam1"], v["lam2"]))
    cells, iso = (bp.arrow_frame(data) for data in views.contour_data(v["problem"], lam, v["rotation"],
                                                                        charts.surround(box)))
    path = charts.long_frame(loss[keep], list(range(len(labels))), diverged_at=None, column="f",
                             extra={"x": iterates[keep, :, 0], "y": iterates[keep, :, 1]})
    path["step"] = keep[path.step.to_numpy()]  # row index -> the step it shows
    dropped = diverged_at[path.run.to_numpy().astype(int)]
    path = path[((dropped < 0) | (path.step <= dropped)) & np.isfinite(path[["x", "y"]]).all(axis=1)
                & (path[["x", "y"]].abs() < 1e6).all(axis=1)]
    eigenvalues, basis = (value.cpu() for value in problem.eigen_at_minimum())
    errors = np.abs((iterates - problem.minimizer.cpu().numpy()) @ basis.numpy())  # [T, R, 2]
    directions = [f"λ = {float(e):.3g}" for e in eigenvalues]
    error_lines = [line for i in range(2) for line in panels.lines_of(errors[:, :, i], keep, diverged_at, True, i)]
    grad_lines = []
    if steps:
        for kind, values in enumerate((history.grad_norm.numpy(), history.clipped_grad_norm.numpy())):
            padded = np.vstack([np.full((1, values.shape[1]), np.nan), values])  # grad of step t: row t (t >= 1)
            grad_lines += panels.lines_of(padded, keep, diverged_at, True, kind)
    rows = [
        (340, [partial(contour_group, cells, iso, path, labels, problem.minimizer.cpu().numpy(), box),
               panels.series("error along each eigen-direction |uᵢᵀ(x_t − x*)|", error_lines, steps,
                             kinds=directions, changes=changes, name="errors")]),
        (200, [panels.series("loss f(x_t) (log scale)", panels.lines_of(loss, keep, diverged_at, True), steps,
                             changes=changes, name="loss"),
               panels.series("gradient norm ‖g_t‖: raw vs clipped", grad_lines, steps, kinds=["raw", "clipped"],
                             changes=changes, name="grads")]),
    ]
    return bp.player_spec(rows, steps, stride, fps=round(fps), start=start, spec_id=spec_id, labels=labels)


def equal_aspect_domains(box: tuple, w: str = "width", h: str = "height") -> tuple[str, str]:
    """Vega expressions for x and y domains showing ``box`` with one unit as long on both axes of a panel
    ``w`` x ``h`` px (signal names; the Vega form of :func:`charts.equal_aspect`)."""
    x0, x1, y0, y1 = map(float, box)
    cx, cy, hx, hy = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2, (y1 - y0) / 2
    ratio = f"(({h} / max({w}, 1)) / {hy / hx!r})"
    return (f"[{cx!r} - {hx!r} * max(1, 1 / {ratio}), {cx!r} + {hx!r} * max(1, 1 / {ratio})]",
            f"[{cy!r} - {hy!r} * max(1, {ratio}), {cy!r} + {hy!r} * max(1, {ratio})]")


@functools.lru_cache(maxsize=32)
def _png(z_bytes: bytes, shape: tuple) -> str:
    z = np.frombuffer(z_bytes).reshape(shape)
    buffer = io.BytesIO()
    mpimage.imsave(buffer, z, cmap="Greys", origin="lower", format="png")  # row 0 = the lowest y, drawn at the bottom
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def grey_png(z: np.ndarray) -> str:
    """``z`` [rows = y, columns = x] as a PNG data URL, darker = larger (cached: the same objective, the same
    image)."""
    z = np.ascontiguousarray(z, dtype=float)
    return _png(z.tobytes(), z.shape)


def fill(w: str, h: str) -> dict:
    """A facet group as large as the panel, clipping its lines to it."""
    return {"clip": True, "encode": {"update": {"width": {"signal": w}, "height": {"signal": h}}}}


def xy(field: str, scale: str = "x") -> dict:
    return {"scale": scale, "field": field}


def contour_group(cells: pd.DataFrame, iso: pd.DataFrame, path: pd.DataFrame, labels, star, box,
                  w: str = "width", h: str = "height") -> dict:
    """The path panel: log f as a grey image and white iso-lines of the objective, each run's path up to the
    shown step, its current point and its loss there (text in the corner), the minimum as a diamond; equal
    aspect. The image covers ``cells`` (twice the box, clipped to the panel); data inline: one row per iso-line
    and run."""
    cells = cells.sort_values(["y", "x"])
    x_edges = sorted(set(cells.x1)) + [float(cells.x2.max())]
    y_edges = sorted(set(cells.y1)) + [float(cells.y2.max())]
    z = cells.value.to_numpy().reshape(len(y_edges) - 1, len(x_edges) - 1)
    extent = {"x": x_edges[0], "x2": x_edges[-1], "y": y_edges[-1], "y2": y_edges[0]}  # the image's corners
    lines = [{"x": bp.rounded(g.sort_values("order").x), "y": bp.rounded(g.sort_values("order").y), "seg": k}
             for k, (_, g) in enumerate(iso.groupby("level", sort=False))]
    runs = [{"r": int(r), "s": g.step.tolist(), "x": bp.rounded(g.x, 5), "y": bp.rounded(g.y, 5),
             "f": bp.finite_or_none(g.f)} for r, g in path.groupby("run")]
    x_domain, y_domain = equal_aspect_domains(box, w, h)
    return {
        "title": {"text": charts.wrap_title("path on the loss landscape (grey: log f)", panels.TITLE_CHARS),
                  "anchor": "start", "fontSize": 12},
        "signals": [{"name": "labels", "value": list(labels)}],
        "data": [
            {"name": "iso", "values": lines, "transform": [{"type": "flatten", "fields": ["x", "y"], "index": "o"}]},
            {"name": "paths", "values": runs, "transform": [{"type": "flatten", "fields": ["s", "x", "y", "f"]}]},
            {"name": "shown", "source": "paths", "transform": [{"type": "filter", "expr": "datum.s <= step"}]},
            {"name": "head", "source": "shown", "transform": [{"type": "filter", "expr": "datum.s === step"}]},
            {"name": "optimum", "values": [{"x": float(star[0]), "y": float(star[1])}]},
        ],
        "scales": [
            {"name": "x", "domain": {"signal": x_domain}, "range": [0, {"signal": w}], "zero": False, "nice": False},
            {"name": "y", "domain": {"signal": y_domain}, "range": [{"signal": h}, 0], "zero": False, "nice": False},
        ],  # run colours: the top-level scale "color" (browser_player.player_spec)
        "axes": [{"orient": "bottom", "scale": "x", "title": "x"}, {"orient": "left", "scale": "y", "title": "y"}],
        "marks": [
            {"type": "image", "name": "landscape", "clip": True, "interactive": False, "encode": {"update": {
                **{k: {"scale": k[0], "value": float(v)} for k, v in extent.items()},
                "url": {"value": grey_png(z)}, "aspect": {"value": False}, "smooth": {"value": True},
                "opacity": {"value": 0.55}}}},  # one image, drawn once per chart (not 8,100 cells)
            {"type": "group", "from": {"facet": {"name": "segment", "data": "iso", "groupby": "seg"}}, **fill(w, h),
             "marks": [{"type": "line", "from": {"data": "segment"}, "interactive": False,
                        "encode": {"update": {"x": xy("x"), "y": xy("y", "y"), "stroke": {"value": "white"},
                                              "strokeWidth": {"value": 0.8}, "strokeOpacity": {"value": 0.9}}}}]},
            {"type": "group", "from": {"facet": {"name": "run", "data": "shown", "groupby": "r"}}, **fill(w, h),
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
