"""The Vega-Lite structure of every page's own charts (the shared line chart is :func:`charts.series_spec`).

Each builder takes only what shapes the chart (a view box, a flag) and reads its data from named sources
(:func:`charts.named`), filled on each redraw by :func:`charts.show`; :func:`charts.vega_spec` caches the
spec per arguments. The builders live in this imported module, not in the page scripts Streamlit
re-executes on every run, so the cache outlives a rerun.
"""

from __future__ import annotations

import altair as alt

from app_pages import charts
from app_pages.charts import named, vega_spec

TIP = dict(format=".4g")
BIAS_TICKS = [0, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10, 30, 100]  # the clipping bias axis (symlog)
SHAPES = ["circle", "square", "triangle-up", "diamond", "cross"]  # marker per comparison sampler (diffusion)


# -------------------- playground: path on the landscape, (η, β) stability map


@vega_spec
def contour_spec(box: tuple) -> alt.LayerChart:
    xscale, yscale = charts.equal_aspect(box)  # level sets keep their shape at any width
    heat = alt.Chart(named("cells")).mark_rect(opacity=0.55, clip=True).encode(  # cells cover charts.surround(box)
        x=alt.X("x1:Q", scale=xscale, title="x"), x2=alt.X2("x2:Q"),
        y=alt.Y("y1:Q", scale=yscale, title="y"), y2=alt.Y2("y2:Q"),
        color=alt.Color("value:Q", scale=alt.Scale(scheme="greys"), legend=None))
    iso = alt.Chart(named("iso")).mark_line(color="white", strokeWidth=0.8, opacity=0.9, clip=True).encode(
        x=alt.X("x:Q", scale=xscale), y=alt.Y("y:Q", scale=yscale), detail=alt.Detail("level:N"),
        order=alt.Order("order:Q"))
    enc = dict(x=alt.X("x:Q", scale=xscale), y=alt.Y("y:Q", scale=yscale), color=charts.run_color(),
               order=alt.Order("step:Q"),
               tooltip=[alt.Tooltip("run:N"), alt.Tooltip("step:Q"), alt.Tooltip("x:Q", format=".3f"),
                        alt.Tooltip("y:Q", format=".3f"), alt.Tooltip("loss:Q", **TIP)])
    path = alt.Chart(named("path")).mark_line(clip=True, strokeWidth=2).encode(**enc)
    enc["color"] = alt.Color("run:N", scale=alt.Scale(range=charts.RUN_COLORS), sort="ascending", legend=None)
    points = alt.Chart(named("path")).mark_circle(clip=True, size=28).encode(**enc)
    optimum = alt.Chart(named("optimum")).mark_point(shape="diamond", size=120, color="black", filled=True).encode(
        x=alt.X("x:Q", scale=xscale), y=alt.Y("y:Q", scale=yscale), tooltip=[alt.Tooltip("what:N")])
    return (heat + iso + path + points + optimum).properties(height=380, title="path on the loss landscape "
                                                                                "(grey: log f, ◆ minimum)")


@vega_spec
def stability_spec(x_domain: tuple) -> alt.LayerChart:
    xscale = alt.Scale(type="log", domain=list(x_domain), nice=False)
    yscale = alt.Scale(domain=[0, 1], nice=False, zero=False)
    cell = dict(x=alt.X("x1:Q", scale=xscale, title="step size η (log)"), x2=alt.X2("x2:Q"),
                y=alt.Y("y1:Q", scale=yscale, title="momentum β"), y2=alt.Y2("y2:Q"),
                tooltip=[alt.Tooltip("x:Q", title="η", format=".3g"), alt.Tooltip("y:Q", title="β", format=".3g"),
                         alt.Tooltip("value:Q", title="rate per step", **TIP)])
    stable = alt.Chart(named("stable")).mark_rect().encode(
        color=alt.Color("value:Q", title="rate", scale=alt.Scale(scheme="viridis", domain=[0, 1])), **cell)
    unstable = alt.Chart(named("unstable")).mark_rect(color="#eeeeee").encode(**cell)
    curve = dict(x=alt.X("eta:Q", scale=xscale), y=alt.Y("beta:Q", scale=yscale), tooltip=[alt.Tooltip("curve:N")])
    edge = alt.Chart(named("edge")).mark_line(color="#d62728", strokeWidth=2, clip=True).encode(**curve)
    damping = alt.Chart(named("damping")).mark_line(color="white", strokeDash=[5, 3], clip=True).encode(
        detail=alt.Detail("curve:N"), **curve)
    marker = alt.Chart(named("here")).mark_point(shape="cross", size=260, filled=True, opacity=1,
                                                 stroke="black", strokeWidth=1).encode(
        x=alt.X("eta:Q", scale=xscale), y=alt.Y("beta:Q", scale=yscale), color=charts.run_color(legend=False),
        tooltip=[alt.Tooltip("run:N"), alt.Tooltip("eta:Q", title="η"), alt.Tooltip("beta:Q", title="β"),
                 alt.Tooltip("rate:Q", **TIP)])  # "+" in each run's colour: the current setting and the pins
    return (unstable + stable + edge + damping + marker).properties(height=320)


# -------------------- clipping: chain histogram, bias vs threshold


@vega_spec
def histogram_spec() -> alt.LayerChart:
    bars = alt.Chart(named("bins")).mark_bar(opacity=0.55, binSpacing=0).encode(
        x=alt.X("left:Q", title="iterate x_t of each chain"), x2=alt.X2("right:Q"),
        y=alt.Y("count:Q", title="chains", stack=None), y2=alt.Y2("zero:Q"), color=charts.run_color(),
        tooltip=[alt.Tooltip("run:N"), alt.Tooltip("left:Q", title="from", format=".3g"),
                 alt.Tooltip("right:Q", title="to", format=".3g"), alt.Tooltip("count:Q")])
    rules = alt.Chart(named("marks")).mark_rule(strokeWidth=2).encode(
        x=alt.X("x:Q"), color=alt.Color("what:N", scale=alt.Scale(range=["black", "#ff7f0e"]), legend=None),
        strokeDash=alt.StrokeDash("what:N", legend=alt.Legend(orient="top", title=None, symbolType="stroke")),
        # one legend for the marks, on top (solid: the minimum, dashed: theory); the runs' is below
        tooltip=[alt.Tooltip("what:N"), alt.Tooltip("x:Q", format=".4f")])
    return alt.layer(bars, rules).resolve_scale(color="independent").properties(
        height=300, title="where the chains are now (histogram)")


@vega_spec
def curve_spec(with_sweep: bool) -> alt.LayerChart:
    xs = alt.X("c:Q", title="clip threshold c (log)", scale=alt.Scale(type="log"))
    ys = alt.Y("bias:Q", title="bias |∇f(x̄)| (symlog)", scale=alt.Scale(type="symlog", constant=1e-3, zero=True),
               axis=alt.Axis(values=BIAS_TICKS, format="~g"))  # Vega's own symlog ticks: 3, crowded
    lines = alt.Chart(named("theory")).mark_line().encode(
        x=xs, y=ys, strokeDash=alt.StrokeDash(
            "curve:N", scale=alt.Scale(domain=["mean-field theory", "KHS envelope min(σ, σ²/c)"],
                                       range=[[1, 0], [6, 4]]),
            legend=alt.Legend(orient="bottom", title=None, symbolType="stroke")),
        color=alt.value("#555"), tooltip=[alt.Tooltip("curve:N"), alt.Tooltip("c:Q", format=".3g"),
                                          alt.Tooltip("bias:Q", format=".4f")])
    point = alt.Chart(named("now")).mark_point(shape="cross", size=260, filled=True, color="#d62728").encode(
        x=xs, y=ys, tooltip=[alt.Tooltip("what:N"), alt.Tooltip("c:Q", format=".3g"),
                             alt.Tooltip("bias:Q", format=".4f"), alt.Tooltip("note:N", title="status")])
    note = alt.Chart(named("now")).mark_text(align="left", dx=12, dy=-12, color="#d62728", fontSize=12).encode(
        x=xs, y=ys, text=alt.Text("note:N"))  # "not yet stationary" beside a run still relaxing
    layers = [lines, point, note]
    if with_sweep:
        layers.append(alt.Chart(named("sweep")).mark_circle(size=60, color="#1f77b4").encode(
            x=xs, y=ys, tooltip=[alt.Tooltip("c:Q", format=".3g"), alt.Tooltip("bias:Q", format=".4f"),
                                 alt.Tooltip("stderr:Q", format=".2g")]))
    return alt.layer(*layers).properties(height=300, title="measured bias vs theory as c moves")


# -------------------- logistic: decision boundaries


@vega_spec
def boundary_spec(box: float) -> alt.LayerChart:
    scale, yscale = charts.equal_aspect((-box, box, -box, box))  # a boundary's angle is the one drawn
    points = alt.Chart(named("points")).mark_point(filled=True, size=70, opacity=0.8).encode(
        x=alt.X("x:Q", scale=scale, title="a₁"), y=alt.Y("y:Q", scale=yscale, title="a₂"),
        shape=alt.Shape("label:N", scale=alt.Scale(range=["circle", "square"]),
                        legend=alt.Legend(orient="top", title=None)),  # the runs' legend is below
        color=alt.value("#444"), tooltip=[alt.Tooltip("label:N"), alt.Tooltip("x:Q"), alt.Tooltip("y:Q")])
    lines = alt.Chart(named("lines")).mark_line(clip=True, strokeWidth=2.5).encode(
        x=alt.X("x:Q", scale=scale), y=alt.Y("y:Q", scale=yscale), color=charts.run_color(),
        strokeDash=alt.StrokeDash("kind:N", scale=alt.Scale(domain=["LR", "Batch Perceptron"],
                                                            range=[[1, 0], [6, 3]]), legend=None),
        detail=alt.Detail("run:N"), tooltip=[alt.Tooltip("run:N")])
    return (points + lines).properties(height=380, title="decision boundaries θ_tᵀa = 0 (through the origin)")


# -------------------- diffusion: samples, stability region, δλ per step


@vega_spec
def samples_spec() -> alt.LayerChart:
    scale, yscale = charts.equal_aspect((-2.2, 2.2, -2.2, 2.2))  # the ring stays round
    points = alt.Chart(named("points")).mark_circle(size=18, opacity=0.7, clip=True).encode(
        x=alt.X("x:Q", scale=scale, title="x₁ (data scale x̄/√(1+σ²))"), y=alt.Y("y:Q", scale=yscale, title="x₂"),
        color=alt.Color("class:N", scale=alt.Scale(scheme="category10"), legend=None),
        tooltip=[alt.Tooltip("class:N"), alt.Tooltip("x:Q", format=".3f"), alt.Tooltip("y:Q", format=".3f")])
    means = alt.Chart(named("means")).mark_point(shape="cross", size=140, color="black", strokeWidth=2).encode(
        x=alt.X("x:Q", scale=scale), y=alt.Y("y:Q", scale=yscale))
    other = alt.Chart(named("other")).mark_point(size=26, opacity=0.55, color="#666", clip=True).encode(
        x=alt.X("x:Q", scale=scale), y=alt.Y("y:Q", scale=yscale),
        shape=alt.Shape("sampler:N", scale=alt.Scale(range=SHAPES), sort="ascending",
                        legend=alt.Legend(orient="bottom", title=None, labelLimit=300, columns=3)),
        tooltip=[alt.Tooltip("sampler:N")])
    return (other + points + means).properties(
        height=400, title="samples now (•: this sampler, grey: others, +: class means)")


@vega_spec
def region_spec(x_min: float) -> alt.LayerChart:
    xs = alt.Scale(domain=[x_min, 0.6], nice=False)
    ys = alt.Scale(domain=[-1.6, 1.6], nice=False)
    boundary = alt.Chart(named("locus")).mark_line(color="#444", clip=True).encode(
        x=alt.X("re:Q", scale=xs, title="Re δλ"), y=alt.Y("im:Q", scale=ys, title="Im δλ"), order=alt.Order("order:Q"))
    interval = alt.Chart(named("interval")).mark_rule(color="#2ca02c", strokeWidth=6, opacity=0.6).encode(
        x=alt.X("x1:Q", scale=xs), x2=alt.X2("x2:Q"), y=alt.Y("y:Q", scale=ys),
        tooltip=[alt.Tooltip("what:N"), alt.Tooltip("x1:Q", title="from", format=".3f")])
    points = alt.Chart(named("z")).mark_circle(size=30, opacity=0.7, clip=True).encode(
        x=alt.X("re:Q", scale=xs), y=alt.Y("im:Q", scale=ys),
        color=alt.Color("stable:N", scale=alt.Scale(domain=["inside", "outside"], range=["#1f77b4", "#d62728"]),
                        legend=alt.Legend(orient="bottom", title="δλ of each sample")),
        tooltip=[alt.Tooltip("re:Q", title="Re δλ", format=".3f"), alt.Tooltip("im:Q", title="Im δλ", format=".3f"),
                 alt.Tooltip("stable:N")])
    return (boundary + interval + points).properties(height=400, title="stability region and δλ at this step")


@vega_spec
def history_spec(left: float) -> alt.LayerChart:
    lines = alt.Chart(named("series")).mark_line(point=True).encode(
        x=alt.X("step:Q", title="step n"), y=alt.Y("z:Q", title="Re δλ (symlog)", scale=alt.Scale(type="symlog")),
        color=alt.Color("run:N", scale=alt.Scale(domain=["worst δλ", "median δλ"], range=["#d62728", "#1f77b4"]),
                        legend=alt.Legend(orient="bottom", title=None)),
        tooltip=[alt.Tooltip("run:N"), alt.Tooltip("step:Q"), alt.Tooltip("z:Q", format=".3f")])
    edge = alt.Chart(alt.InlineData(values=[{"z": left}])).mark_rule(color="#2ca02c", strokeDash=[5, 3]).encode(
        y=alt.Y("z:Q"), tooltip=[alt.Tooltip("z:Q", title="left end of the stable interval", format=".3f")])
    return (lines + edge).properties(height=170, title="δλ per step so far (green: the region's left end)")


# -------------------- rnn: loss surface with paths


@vega_spec
def surface_spec(box: tuple) -> alt.LayerChart:
    """The (w, b) heat map in ``box`` = (w_min, w_max, b_min, b_max), click-to-start, guides and paths."""
    xs = alt.Scale(domain=[box[0], box[1]], nice=False)
    ys = alt.Scale(domain=[box[2], box[3]], nice=False)
    pick = alt.selection_point(name="start", fields=["x", "y"], on="click", clear=False, empty=False)
    heat = alt.Chart(named("cells")).mark_rect().encode(
        x=alt.X("x1:Q", scale=xs, title="w (recurrent weight)"), x2=alt.X2("x2:Q"),
        y=alt.Y("y1:Q", scale=ys, title="b (bias)"), y2=alt.Y2("y2:Q"),
        color=alt.Color("value:Q", scale=alt.Scale(scheme="greys", reverse=True), title="log₁₀ E₅₀"),
        tooltip=[alt.Tooltip("x:Q", title="w", format=".2f"), alt.Tooltip("y:Q", title="b", format=".2f"),
                 alt.Tooltip("value:Q", title="log₁₀ E", format=".2f"), alt.Tooltip("grad:Q", title="‖∇E‖",
                                                                                      format=".3g")],
    ).add_params(pick)
    guides = alt.Chart(named("guides")).mark_line(strokeDash=[5, 3], clip=True).encode(
        x=alt.X("w:Q", scale=xs), y=alt.Y("b:Q", scale=ys),
        color=alt.Color("line:N", scale=alt.Scale(range=["#ff7f0e", "#2ca02c"]),
                        legend=alt.Legend(orient="bottom", title=None, symbolType="stroke", columns=1, labelLimit=400)),
        tooltip=[alt.Tooltip("line:N")])
    enc = dict(x=alt.X("w:Q", scale=xs), y=alt.Y("b:Q", scale=ys), order=alt.Order("step:Q"),
               tooltip=[alt.Tooltip("run:N"), alt.Tooltip("step:Q"), alt.Tooltip("w:Q", format=".3f"),
                        alt.Tooltip("b:Q", format=".3f"), alt.Tooltip("loss:Q", format=".3g")])
    path_color = alt.Color("run:N", scale=alt.Scale(range=charts.RUN_COLORS), sort="ascending", legend=None)
    paths = alt.Chart(named("paths")).mark_line(clip=True, strokeWidth=2.5).encode(color=path_color, **enc)
    dots = alt.Chart(named("paths")).mark_circle(clip=True, size=22).encode(color=path_color, **enc)
    start = alt.Chart(named("start")).mark_point(shape="diamond", size=160, filled=True, color="#d62728").encode(
        x=alt.X("w:Q", scale=xs), y=alt.Y("b:Q", scale=ys), tooltip=[alt.Tooltip("what:N")])
    return alt.layer(heat, guides, paths, dots, start).resolve_scale(color="independent").properties(
        height=420, title="loss surface E₅₀(w, b) — click to choose the start")
