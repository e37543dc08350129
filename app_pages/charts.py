"""Altair chart builders shared by the pages: hover tooltips everywhere, log axes for rates,
and no NaN/overflow ever reaching a scale (non-finite and exploded values are dropped first).

Speed: Altair validates every spec against the Vega-Lite JSON schema (~0.1 s a chart, half the
redraw budget). So each chart's *spec* is built once per structure with named data sources
(``alt.NamedData``), cached by :func:`vega_spec` (``functools.cache``; the builders live in imported
modules, here and in :mod:`app_pages.specs`, which Streamlit does not re-execute on a rerun), and
every redraw only swaps in the data frames (:func:`show`); Streamlit ships those to the browser as Arrow.
"""

from __future__ import annotations

import copy
import functools
import textwrap

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st
from streamlit import dataframe_util

alt.utils.schemapi.disable_debug_mode()  # no validation while building (the specs are fixed and tested)

RUN_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#444444", "#ff7f0e"]
MAX_SHOWN = 1e10
TITLE_CHARS = 24  # a chart title's line: what a laptop's narrowest column (~170 px at 1000 px) shows uncut


def vega_spec(builder):
    """Cache ``builder(*hashable args) -> alt chart`` as its Vega-Lite dict, once per arguments.

    Altair's default theme sizes (``config``) are dropped: Streamlit's theme and width apply instead.
    :func:`show` draws a copy, so the cached dict is never edited.
    """

    @functools.cache
    @functools.wraps(builder)
    def spec(*args) -> dict:
        built = builder(*args).to_dict(validate=False)
        built.pop("config", None)
        return built

    return spec


def named(name: str) -> alt.NamedData:
    return alt.NamedData(name=name)


def show(spec: dict, datasets: dict[str, pd.DataFrame | bytes], container=None, **options):
    """Draw a copy of a cached spec with this run's data frames (one per named source; Arrow bytes for
    static ones). ``options`` go to ``st.vega_lite_chart`` (e.g. ``on_select``); returns its value.

    The frames are merged into the spec's own ``datasets`` (where Altair puts an ``alt.InlineData`` layer's
    values), never replace them: a layer whose source went missing would silently draw nothing.
    """
    spec = copy.deepcopy(spec)  # Streamlit edits the dict it is given (legend titles, datasets)
    spec["datasets"] = {**spec.get("datasets", {}), **datasets}
    if isinstance(spec.get("title"), str):  # Vega cuts a title wider than the chart: wrap it into lines
        spec["title"] = wrap_title(spec["title"])  # (a chart cannot tell its column's width: the narrowest)
    spec["autosize"] = {"type": "fit-x", "contains": "padding"}  # height is the plot's, legends come on top
    return (container or st).vega_lite_chart(spec, width="stretch", **options)


def wrap_title(title: str, width: int = TITLE_CHARS) -> str | list[str]:
    """A title as lines of at most ``width`` characters (broken at spaces; Vega draws a list as lines)."""
    lines = textwrap.wrap(title, width, break_long_words=False, break_on_hyphens=False)
    return lines[0] if len(lines) == 1 else lines or title


def surround(box: tuple, factor: float = 2.0) -> tuple[float, float, float, float]:
    """``box`` grown ``factor`` times around its centre: what an :func:`equal_aspect` chart may show of a
    surface (compute its cells there, draw them clipped, and no blank margin shows)."""
    x0, x1, y0, y1 = map(float, box)
    cx, cy, hx, hy = (x0 + x1) / 2, (y0 + y1) / 2, factor * (x1 - x0) / 2, factor * (y1 - y0) / 2
    return (cx - hx, cx + hx, cy - hy, cy + hy)


def equal_aspect(box: tuple, **options) -> tuple[alt.Scale, alt.Scale]:
    """x and y scales showing ``box`` = (x_min, x_max, y_min, y_max) with one unit as long on both axes,
    whatever the chart's width: the axis with room to spare widens its domain around the box's centre
    (Vega signals ``width``/``height``), so circles stay round and contours keep their shape."""
    x0, x1, y0, y1 = map(float, box)
    cx, cy, hx, hy = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2, (y1 - y0) / 2
    ratio = f"((height / max(width, 1)) / {hy / hx!r})"  # > 1: the plot is taller than the box
    grow_x, grow_y = f"max(1, 1 / {ratio})", f"max(1, {ratio})"
    scales = []
    for centre, half, grow in ((cx, hx, grow_x), (cy, hy, grow_y)):
        scales.append(alt.Scale(domainMin=alt.ExprRef(f"{centre!r} - {half!r} * {grow}"),
                                domainMax=alt.ExprRef(f"{centre!r} + {half!r} * {grow}"),
                                nice=False, zero=False, **options))
    return scales[0], scales[1]


def arrow(df: pd.DataFrame) -> bytes:
    """A data frame as Arrow IPC bytes, for static data sets cached with ``st.cache_data`` (sent as is)."""
    return dataframe_util.convert_anything_to_arrow_bytes(df)


def finite(df: pd.DataFrame, column: str, positive: bool = False, cap: float = MAX_SHOWN) -> pd.DataFrame:
    """Rows whose ``column`` is finite (and > 0 for log axes) and below ``cap`` in magnitude."""
    values = df[column].to_numpy(dtype=float)
    keep = np.isfinite(values) & (np.abs(values) <= cap)
    if positive:
        keep &= values > 0
    return df[keep]


def run_color(legend: bool = True) -> alt.Color:
    """Colour by run label. Labels must sort in run order ('now: …' < 'pin 1: …', or '1 · …' < '2 · …'),
    so that run 0 is always blue whatever the labels say. The legend lists one run a line (two columns
    of long labels do not fit half a laptop screen); ``legend=False`` leaves it to another chart.

    (The labels are not in the spec, so a new step size does not rebuild the cached spec.)
    """
    return alt.Color("run:N", scale=alt.Scale(range=RUN_COLORS), sort="ascending",
                     legend=alt.Legend(orient="bottom", title=None, labelLimit=400, columns=1) if legend else None)


@vega_spec
def series_spec(y: str, title: str, log: bool = True, dash: str | None = None,
                height: int = 220, x: str = "step", rules: bool = False, markers: str | None = None,
                legend: bool = True) -> alt.Chart:
    """Lines of ``y`` vs ``x`` per run (and per ``dash`` group) from source 'series', with hover values.

    With ``rules``, dashed vertical lines at the steps in source 'rules' mark mid-run setting changes.
    With ``markers`` (a tooltip title), diamonds in each run's colour at the (``x``, ``y``) rows of source 'markers'.
    """
    encode = dict(
        x=alt.X(f"{x}:Q", title=x),
        y=alt.Y(f"{y}:Q", title=None, scale=alt.Scale(type="log" if log else "linear"),
                axis=alt.Axis(format="~e" if log else "~g", gridOpacity=0.5)),
        color=run_color(legend),
        tooltip=[alt.Tooltip("run:N"), alt.Tooltip(f"{x}:Q"), alt.Tooltip(f"{y}:Q", format=".4g")]
        + ([alt.Tooltip(f"{dash}:N")] if dash else []),
    )
    if dash:
        encode["strokeDash"] = alt.StrokeDash(f"{dash}:N",
                                              legend=alt.Legend(orient="top", title=None, symbolType="stroke",
                                                                symbolStrokeColor="#555", symbolStrokeWidth=2,
                                                                symbolSize=300, symbolFillColor="transparent"))
        encode["detail"] = alt.Detail(f"{dash}:N")
    chart = alt.Chart(named("series")).mark_line(point=alt.OverlayMarkDef(size=12, opacity=0.6), clip=True)
    chart = chart.encode(**encode)
    if rules:
        marks = alt.Chart(named("rules")).mark_rule(strokeDash=[4, 4], color="gray").encode(
            x=alt.X("step:Q"), tooltip=[alt.Tooltip("step:Q", title="setting changed at step")])
        chart = chart + marks
    if markers:
        points = alt.Chart(named("markers")).mark_point(shape="diamond", size=90, filled=True, opacity=1.0).encode(
            x=alt.X(f"{x}:Q"), y=alt.Y(f"{y}:Q"), color=run_color(legend),
            tooltip=[alt.Tooltip("run:N"), alt.Tooltip(f"{x}:Q", title=markers)])
        chart = chart + points
    return chart.properties(height=height, title=title)


def series(df: pd.DataFrame, y: str, title: str, labels: list[str], log: bool = True, dash: str | None = None,
           height: int = 220, x: str = "step", changes=(), container=None,
           markers: pd.DataFrame | None = None, marker_title: str = "marked at", legend: bool = True) -> None:
    """Draw :func:`series_spec` with the finite rows of ``df`` (positive ones on log axes); ``markers``: rows
    (run, ``x``, ``y``) drawn as diamonds; ``legend=False`` when another chart on the page shows the runs."""
    spec = series_spec(y, title, log, dash, height, x, bool(changes), marker_title if markers is not None else None,
                       legend)
    data = {"series": finite(df, y, positive=log)}
    if changes:
        data["rules"] = pd.DataFrame({"step": list(changes)})
    if markers is not None:
        data["markers"] = markers
    show(spec, data, container)


def grid_cells(xs: np.ndarray, ys: np.ndarray, values: np.ndarray, log_x: bool = False) -> pd.DataFrame:
    """Cell rectangles (x1, x2, y1, y2) around centres ``xs`` (columns) and ``ys`` (rows), with values."""

    def edges(c, log):
        if log:
            c = np.log(c)
        mid = (c[1:] + c[:-1]) / 2
        e = np.concatenate([[c[0] - (mid[0] - c[0])], mid, [c[-1] + (c[-1] - mid[-1])]])
        return np.exp(e) if log else e

    ex, ey = edges(np.asarray(xs, float), log_x), edges(np.asarray(ys, float), False)
    gx, gy = np.meshgrid(np.arange(len(xs)), np.arange(len(ys)))
    gx, gy = gx.ravel(), gy.ravel()
    return pd.DataFrame({"x": np.asarray(xs)[gx], "y": np.asarray(ys)[gy], "x1": ex[gx], "x2": ex[gx + 1],
                         "y1": ey[gy], "y2": ey[gy + 1], "value": np.asarray(values).ravel()})


def long_frame(values: np.ndarray, labels: list[str], start_step: int = 0, diverged_at=None,
               column: str = "value", extra: dict | None = None) -> pd.DataFrame:
    """[T, R] array -> rows (run, step, column), dropping each run's steps after it diverged.

    ``extra`` adds more [T, R] arrays as columns (e.g. the x and y of each iterate).
    """
    steps, runs = values.shape
    step = np.repeat(np.arange(start_step, start_step + steps), runs)
    run = np.tile(np.arange(runs), steps)
    keep = np.ones_like(step, dtype=bool)
    if diverged_at is not None:
        d = np.asarray(diverged_at)[run]
        keep = (d < 0) | (step <= d)
    columns = {"run": np.asarray(labels, dtype=object)[run][keep], "step": step[keep],
               column: values.reshape(-1)[keep]}
    for name, array in (extra or {}).items():
        columns[name] = np.asarray(array).reshape(-1)[keep]
    return pd.DataFrame(columns)
