"""The diffusion page's digits mode played in the browser: the 4×4 grid of 8×8 samples of this sampler and of the
comparison sampler at the step shown (rect marks, 16 × 64 cells a frame), the share of out-of-range pixels per
step so far, and the readout, in one Vega spec following one step (:mod:`app_pages.browser_player`).

Each frame's pixels are sent as one row of 1,024 small integers: 0-255 the grey level of (x + 1)/2, and three
codes for the pixels :func:`app_pages.diffusion_digits.grid_image` colours (above / below ±1.25, not finite);
the browser places pixel j of the row at its tile and position (white gaps of one pixel between the tiles).
"""

from __future__ import annotations

from functools import partial

import numpy as np

from app_pages import browser_player as bp
from app_pages import charts
from app_pages import vega_panels as panels
from app_pages.diffusion_vega import readout_group

ABOVE, BELOW, NOT_FINITE = 256, 257, 258  # pixel codes beside the grey levels 0-255
CODE_COLORS = {ABOVE: "#f22626", BELOW: "#2659f2", NOT_FINITE: "#e600e6"}  # as grid_image's red, blue, magenta
SIDE, TILES = 8, 4  # 8×8 pixels a sample, a 4×4 grid of samples
SPAN = TILES * (SIDE + 1) - 1  # pixel units across the grid, gaps included


def pixel_codes(x: np.ndarray, limit: float) -> np.ndarray:
    """Data-scale states x [T, 16, 64] as codes [T, 1024]: grey 0-255 of (x + 1)/2, or ABOVE (x > limit),
    BELOW (x < −limit), NOT_FINITE."""
    x = np.asarray(x, dtype=float).reshape(x.shape[0], -1)
    grey = np.round(np.clip((np.nan_to_num(x, nan=0.0, posinf=1.0, neginf=-1.0) + 1) / 2, 0, 1) * 255)
    codes = grey.astype(int)
    codes[x > limit], codes[x < -limit], codes[~np.isfinite(x)] = ABOVE, BELOW, NOT_FINITE
    return codes


def grid_group(rows: list[dict], title: str, name: str, w: str = "width", h: str = "height") -> dict:
    """One sampler's grid at the step shown: ``rows`` [{s, v: 1024 codes}] per step; square pixels."""
    tile = f"floor(datum.j / {SIDE * SIDE})"
    corners = [("px", f"({tile} % {TILES}) * {SIDE + 1} + datum.j % {SIDE}"),
               ("py", f"floor({tile} / {TILES}) * {SIDE + 1} + floor((datum.j % {SIDE * SIDE}) / {SIDE})")]
    fill = [{"test": f"datum.v === {code}", "value": color} for code, color in CODE_COLORS.items()]
    size = f"min({w}, {h})"
    return {
        "name": name,
        "title": {"text": charts.wrap_title(title, panels.TITLE_CHARS), "anchor": "start", "fontSize": 12},
        "data": [{"name": f"{name}_pixels", "values": rows},  # one row a frame: filtered, then flattened
                 {"name": f"{name}_now", "source": f"{name}_pixels", "transform": [
                     {"type": "filter", "expr": "datum.s === step"},
                     {"type": "flatten", "fields": ["v"], "index": "j"}] + [
                     {"type": "formula", "as": field, "expr": expr} for field, expr in corners]}],
        "scales": [{"name": "px", "domain": [0, SPAN], "range": [0, {"signal": size}], "zero": False, "nice": False},
                   {"name": "py", "domain": [0, SPAN], "range": [0, {"signal": size}], "zero": False, "nice": False},
                   {"name": "grey", "type": "linear", "domain": [0, 255], "range": ["black", "white"]}],
        "marks": [{"type": "rect", "name": f"{name}_cells", "from": {"data": f"{name}_now"}, "interactive": False,
                   "encode": {"update": {
                       "x": {"scale": "px", "field": "px"}, "x2": {"scale": "px", "signal": "datum.px + 1"},
                       "y": {"scale": "py", "field": "py"}, "y2": {"scale": "py", "signal": "datum.py + 1"},
                       "fill": fill + [{"scale": "grey", "field": "v"}]}}}],
    }


def spec(*, names: list[str], codes: list[np.ndarray], out_of_range: list[np.ndarray], sigmas, digit: int,
         limit: float, changes, start: dict, spec_id: int, fps: float) -> dict:
    """The digits mode's animated chart: ``names`` the samplers (this one first), ``codes`` their pixel codes
    [N+1, 1024], ``out_of_range`` their share of out-of-range pixels per step [N+1]."""
    steps = len(sigmas) - 1
    grids = [partial(grid_group, [{"s": s, "v": frame.tolist()} for s, frame in enumerate(c)],
                     f"{name}, step shown: x_t = x̄/√(1+σ²), digit {digit}", f"grid{g}")
             for g, (name, c) in enumerate(zip(names, codes))]
    keep = np.arange(steps + 1)
    lines = [line for r, values in enumerate(out_of_range)
             for line in [{"r": r, "k": 0, "s": keep.tolist(), "v": [float(f"{v:.4g}") for v in values]}]]
    share = panels.series(f"pixels with |x| > {limit:g}, per step", lines, steps, log=False,
                          y_title="pixels out of range", changes=changes, name="oor")

    def fixed_share(w: str, h: str) -> dict:  # shares: the axis 0-100 %, whatever the run
        group = share(w, h)
        next(s for s in group["scales"] if s["name"] == "y").update(domain=[0, 1], nice=False)
        next(a for a in group["axes"] if a["scale"] == "y").update(format="~%", gridScale="x")  # not into the next
        return group

    readout = [{"s": s, "t": [f"step {s} / {steps} (σ = {sigmas[s]:.3g})"] + [
        f"{name}: {values[s]:.1%} of the pixels out of range" for name, values in zip(names, out_of_range)],
        "e": [0] * (1 + len(names))} for s in range(steps + 1)]
    side = 240  # a grid is min(width, height) square: about this wide in half of a laptop's chart
    rows = [(side, grids), (190, [fixed_share, partial(readout_group, readout)])]
    return bp.player_spec(rows, steps, bp.frame_stride(steps), fps=round(fps), start=start, spec_id=spec_id,
                          labels=names)
