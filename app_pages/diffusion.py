"""Heavy-ball diffusion sampling: guided samples of an 8-class ring moving along the ε-ODE, and why few
steps diverge: δλ leaves the stability region of the method applied at that step, which heavy-ball momentum
stretches along the negative real axis (Wizadwongsa et al. 2024).

One divergence definition on the page: a sample is off at step t when ‖x_t − x_ref,t‖ > 1 in the plotted data
scale x_t = x̄_t/√(1+σ_t²), x_ref,t the RK4 reference at the same σ_t (at t = N: the notebook's criterion)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st
import torch

from app_pages import browser_playback, charts, diffusion_digits, diffusion_vega, ensemble, keys, specs
from app_pages.controls import Control, Controls
from app_pages.live import SamplerPath
from app_pages.pins import Pins
from app_pages.player import playback
from app_pages.ui import device, measure, page_clock, reproduce_expander
from steplab.diffusion import (
    balanced_labels,
    boundary_locus,
    method_name,
    noise,
    parse_method,
    real_interval_closed_form,
    ring_gmm,
    sample,
    sigma_grid,
    spectral_radius,
)
from steplab.diffusion.experiments import dominant_step_eigenvalue
from steplab.diffusion.metrics import assigned_fraction, diverged, reference_path
from steplab.diffusion.theory import applied_method

PAGE = "diffusion"
FAMILIES = {"ddim": "DDIM (Euler)", "plms": "PLMS (Adams–Bashforth)", "hb": "PLMS + heavy ball (HB)",
            "nt": "PLMS + Nesterov", "ghvb": "GHVB", "dpm++": "DPM-Solver++(2M)", "dpm++hb": "DPM-Solver++ + HB"}
CONTROLS = [
    Control("family", "Sampler", "select", "hb", options=tuple(FAMILIES), labels=FAMILIES),
    Control("m", "momentum number m = (order − 1) + β", "float", 3.6, low=0.1, high=4.0, step=0.1,
            help="hb3.8 = PLMS4 with heavy-ball β = 0.8; m = 4 is plain PLMS4 (β = 1)"),
    Control("steps", "steps N (model evaluations)", "int", 8, low=4, high=50),
    Control("guidance", "guidance scale w", "float", 15.0, low=0.0, high=20.0, step=0.5),
    ensemble.control(PAGE),  # "samples": range and default follow the device (app_pages.ensemble.SIZES)
    Control("seed", "seed", "int", 0, low=0, high=99),
    Control("compare", "compare with (same noise, labels, N and w)", "select", "auto",
            options=("auto", "none", "ddim", "plms4", "hb3.8", "ghvb3.8", "dpm++"),
            labels={"auto": "auto: plms4 (hb3.8 when the sampler is plms4)"}),
    Control("playback", "playback", "select", "browser", options=("browser", "server"),
            labels={"browser": "in the browser (the whole run sent once)",
                    "server": "on the server (a rerun per frame)"}),
]
REFERENCE_STEPS = 400  # RK4 steps in all, spread over the sampler's N intervals
SAMPLES_BOX = (-2.2, 2.2, -2.2, 2.2)  # the samples view (specs.samples_spec's domain)


@st.cache_resource(max_entries=8, show_spinner="Solving the reference ODE (RK4)…")
def reference(guidance: float, samples: int, seed: int, steps: int, where: str) -> torch.Tensor:
    """x̄_ref at every σ of the N-step grid [N+1, B, 2] (RK4 in log σ, ⌈REFERENCE_STEPS/N⌉ steps per interval),
    on the device ``where`` (cached as is, not copied: callers only read it)."""
    model = ring_gmm()
    x_t, labels = noise(samples, 2, seed=seed, device=where), balanced_labels(samples, model.classes, where)
    return reference_path(model, guidance, x_t, sigma_grid(steps), labels, substeps=-(-REFERENCE_STEPS // steps))


def data_scale(grid: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """√(1+σ_t²) per step of the grid, [N+1, 1, 1] on ``like``'s device: x = x̄/√(1+σ²) is the data scale."""
    return torch.sqrt(1.0 + grid**2).to(like)[:, None, None]


def off_reference(path: torch.Tensor, ref: torch.Tensor, scale: torch.Tensor) -> np.ndarray:
    """The page's one divergence test, per step and sample [T, B]: ‖x_t − x_ref,t‖ > 1 with x = x̄/√(1+σ_t²)
    (non-finite counts as off), for the first T steps of ``path`` [T, B, 2] against ``ref`` [N+1, B, 2],
    computed on their device (only the [T, B] booleans come back)."""
    count, batch = path.shape[:2]
    off = diverged((path / scale[:count]).reshape(-1, 2), (ref[:count] / scale[:count]).reshape(-1, 2))
    return off.reshape(count, batch).cpu().numpy()


@st.cache_data(max_entries=32, show_spinner=False)
def locus(method: str) -> bytes | None:
    try:
        z = boundary_locus(method, points=361).numpy()
    except ValueError:
        return None
    return charts.arrow(pd.DataFrame({"re": z.real, "im": z.imag, "order": np.arange(len(z))}))


def step_eigenvalues(model, labels, guidance: float, x_bar: torch.Tensor, sigma: float, delta: float) -> np.ndarray:
    """z = δ λ per sample (complex dtype for the stability-region test), from the library's exact Jacobian."""
    return dominant_step_eigenvalue(model, x_bar, sigma, delta, labels, guidance).cpu().numpy().astype(complex)


def reproduce_code(v: dict, method: str) -> str:
    return f"""from steplab.diffusion import balanced_labels, divergence_fraction, noise, ring_gmm, sample, sigma_grid
from steplab.diffusion.metrics import assigned_fraction, reference_path

model = ring_gmm()  # 8 Gaussians (std 0.05) on the unit circle
x_T, labels = noise({v['samples']}, 2, seed={v['seed']}), balanced_labels({v['samples']}, model.classes)
x, path = sample(model, "{method}", steps={v['steps']}, guidance={v['guidance']:g}, x_T=x_T, class_labels=labels,
                 return_path=True)  # path: [N+1, batch, 2], one batched call
grid = sigma_grid({v['steps']})
substeps = {-(-REFERENCE_STEPS // v['steps'])}  # RK4 steps per grid interval
reference = reference_path(model, {v['guidance']:g}, x_T, grid, labels, substeps=substeps)[-1]
scale = float((1 + grid[-1] ** 2) ** 0.5)  # data scale x = x̄/√(1+σ²)
print(f"diverged (‖x_N − x_ref‖ > 1): {{divergence_fraction(x / scale, reference / scale).item():.1%}}, "
      f"right cluster: {{assigned_fraction(x, model.means, labels).item():.1%}} of samples")"""


def comparison(choice: str, method: str) -> str:
    """The comparison sampler: 'auto' is plms4 (hb3.8 for plms4 itself); never the sampler itself ('none')."""
    if choice == "auto":
        choice = "hb3.8" if method == "plms4" else "plms4"
    return "none" if choice == method else choice


def parse_pin(text: str) -> str:
    """A pinned sampler's name, e.g. ``'hb2.5'`` (checked by ``parse_method``)."""
    parse_method(text)
    return text


@st.cache_resource(max_entries=16, show_spinner=False)
def sampler_path(method: str, steps: int, guidance: float, samples: int, seed: int, where: str) -> torch.Tensor:
    """A comparison or pinned sampler's whole path [N+1, B, 2] from the same x_T and labels (one batched call).

    One call per sampler: the library's samplers take one method (their recurrences differ), and each
    path is cached on the device ``where`` (not copied: callers only read it), so a redraw or a play frame
    only slices it.
    """
    model = ring_gmm()
    x_t, labels = noise(samples, 2, seed=seed, device=where), balanced_labels(samples, model.classes, where)
    return sample(model, method, steps, guidance, x_t, labels, return_path=True)[1]


def main() -> None:
    if diffusion_digits.selected_mode() == "digits":  # the trained digits denoiser (its own module)
        return diffusion_digits.main()
    st.title("Heavy-ball diffusion sampling")
    st.caption("Guided sampling of an 8-class ring with few steps. Each sampler is stable only while δλ (step × "
               "eigenvalue of ∇ε̄) stays in the region of the method applied at that step (the first steps run at "
               "lower order); strong guidance pushes δλ out and samples fly off. Heavy-ball momentum (β < 1) "
               "stretches the region along the negative real axis by (2 − β)/β but lowers it near the imaginary "
               "axis (Wizadwongsa et al. 2024). A sample is off when ‖x_t − x_ref,t‖ > 1 against an RK4 reference "
               "at the same σ_t.")
    clock = page_clock(PAGE)
    ctl = Controls(PAGE, CONTROLS)
    ctl.show_warnings()
    v = {"family": ctl("family")}
    v["m"] = ctl("m", disabled=v["family"] in ("ddim", "dpm++"))
    for name in ("steps", "guidance", "samples", "seed", "compare", "playback"):
        v[name] = ctl(name)
    method = method_name(v["family"], v["m"])
    model = ring_gmm()
    x_t = noise(v["samples"], 2, seed=v["seed"], device=device())
    labels = balanced_labels(v["samples"], model.classes, device())
    grid = sigma_grid(v["steps"])
    eps = model.eps_fn(labels, v["guidance"])
    pins = Pins(ctl, parse_pin, str)
    compare = comparison(v["compare"], method)
    with st.container():  # with or without the note, the charts below keep their place
        if compare == "none" and v["compare"] not in ("none", "auto"):
            st.caption(f"The comparison sampler is this sampler itself ({method}): nothing to compare; pick another "
                       f"under “compare with”.")
    others = ([] if compare == "none" else [(f"compare: {compare}", compare)]) + [
        (f"pin {i}: {m}", m) for i, m in enumerate(pins.values, start=1)]  # (label, sampler) on the same x_T
    with measure(PAGE):
        other = {label: sampler_path(m, v["steps"], v["guidance"], v["samples"], v["seed"], str(device()))
                 for label, m in others}
        ref = reference(v["guidance"], v["samples"], v["seed"], v["steps"], str(device()))

    start, advance = SamplerPath.player(model, (method, v["guidance"]), x_t, labels, eps, grid)
    run = dict(steps=v["steps"], reset_key=(v["steps"], v["samples"], v["seed"]), live_key=(method, v["guidance"]),
               start=start, advance=advance)
    if v["playback"] == "browser":  # the whole path once per change; one chart plays it (app_pages.browser_playback)
        with measure(PAGE):  # a mid-run change keeps x̄_0..x̄_k of the path shown and integrates on from x̄_k
            played = browser_playback.playback(PAGE, **run, resume=SamplerPath.cut)
        live = played.live
        render_browser(played, v, method, model, grid, labels, other, ref)
    else:
        live = playback(PAGE, **run, render=lambda live, state: render(live, v, method, model, grid, labels, other,
                                                                       ref))["live"]
    pins.buttons(method, what="sampler")
    final = live.path[-1]
    scale = data_scale(grid, final)
    rows = []
    with measure(PAGE):
        for label, sampler, x_n in [(f"now: {method}", method, final)] + [(lb, m, other[lb][-1]) for lb, m in others]:
            rows.append({"run": label, "sampler": sampler, "steps N": v["steps"], "guidance w": v["guidance"],
                         "diverged at the end": float(off_reference(x_n[None], ref[-1:], scale[-1:]).mean()),
                         "right cluster": float(assigned_fraction(x_n, model.means, labels))})
    fraction = rows[0]["diverged at the end"]
    summary = (f"**At the end of the run ({v['steps']} steps, w = {v['guidance']:g}):** {method}: {fraction:.1%} of "
               f"the samples diverged, {rows[0]['right cluster']:.1%} in the right cluster")
    if compare != "none":
        summary += (f"; {compare}: {rows[1]['diverged at the end']:.1%} diverged, "
                    f"{rows[1]['right cluster']:.1%} in the right cluster")
    st.markdown(summary + " (diverged: ‖x_N − x_ref‖ > 1; right cluster: nearest class mean = own label).")
    if pins.values:
        st.dataframe(pd.DataFrame(rows), hide_index=True,
                     column_config={"diverged at the end": st.column_config.NumberColumn(format="percent"),
                                    "right cluster": st.column_config.NumberColumn(format="percent")})
    reproduce_expander(reproduce_code(v, method), "Changes made mid-run are not included. For the comparison or "
                       "a pinned sampler, put its name in sample(model, ...).")
    st.session_state[keys.result(PAGE)] = {"t": live.t, "divergence": fraction, "final": final.cpu().numpy(),
                                           "right": rows[0]["right cluster"],
                                           "runs": {row["run"]: row["diverged at the end"] for row in rows},
                                           "finals": {label: path[-1].cpu().numpy() for label, path in other.items()},
                                           "x": live.path}
    ctl.finish(extra={"pins": pins.param()})
    clock.show()


def render(live: SamplerPath, v: dict, method: str, model, grid: torch.Tensor, labels: torch.Tensor,
           other: dict[str, torch.Tensor], ref: torch.Tensor) -> None:
    t = live.t
    sigmas = grid.numpy()
    scale = data_scale(grid, live.path)
    with measure(PAGE):  # on the device; the [t+1, B] booleans and what is drawn come back
        bad = off_reference(live.path[: t + 1], ref, scale)  # [t+1, B]: ‖x_k − x_ref,k‖ > 1
        now = live.path[t] / scale[t]  # [B, 2] in the data scale
    n = min(t, v["steps"] - 1)

    def z_at(k: int) -> np.ndarray:  # δλ of step k -> k + 1, per sample
        with measure(PAGE):
            return step_eigenvalues(model, labels, v["guidance"], live.path[k], float(sigmas[k]),
                                    float(sigmas[k + 1] - sigmas[k]))

    def region(k: int):  # the method applied at step k (warm-up: lower order) and its real interval
        applied = applied_method(method, k)
        return applied, real_interval_closed_form(applied)

    z = z_at(n)
    finite_z = np.isfinite(z)
    try:
        applied, left = region(n)
        growth = spectral_radius(applied, np.where(finite_z, z, 0)).numpy()  # |ζ|max: error growth this step
        inside = growth <= 1 + 1e-9
    except ValueError:  # DPM-Solver: no multistep region
        applied, inside, left, growth = None, np.ones(len(z), dtype=bool), None, None
    cols = st.columns(4)
    cols[0].metric("step", f"{t} / {v['steps']}", help=f"σ = {sigmas[t]:.3g}")
    cols[1].metric("samples off the reference now", f"{int(bad[-1].sum())} / {len(labels)}",
                   help="‖x_t − x_ref,t‖ > 1 in the data scale x = x̄/√(1+σ²); at t = N: diverged")
    cols[2].metric(f"δλ outside {applied}'s region, step {n}→{n + 1}" if applied else "δλ outside the region",
                   f"{int((~inside).sum())} / {len(z)} (median |ζ| {np.median(growth[finite_z]):.2f})"
                   if left is not None and finite_z.any() else "–",
                   help="the region of the method actually applied at this step (warm-up: Euler, then AB2, …); "
                   "one step outside multiplies an error by its |ζ| > 1 once (the median over samples is shown); "
                   "divergence needs large |ζ| for several steps in a row")
    cols[3].metric(f"stable real interval of {applied}" if applied else "stable real interval",
                   f"({left:.3g}, 0)" if left is not None else "n/a")
    if bad[-1].any():  # samples off now: since when (the start of their final off streak), and why
        lost = diffusion_vega.divergence_text(t, v["steps"], bad, z_at, diffusion_vega.Region.of(method, v["steps"]))
        st.error(f"**{method}** — {lost}", icon=":material/error:")
    left_col, right_col = st.columns(2)
    means = pd.DataFrame({"x": model.means[:, 0].numpy(), "y": model.means[:, 1].numpy()})
    if len(labels) > ensemble.POINTS_MAX:  # too many to draw one by one: a density image made on the device
        with measure(PAGE):
            cells = ensemble.density_cells(now, SAMPLES_BOX)
        live.drawn = {"samples": len(labels), "in_view": int(cells["count"].sum())}
        means["run"] = "class mean"
        charts.show(ensemble.density_spec(SAMPLES_BOX, f"{len(labels):,} samples now ({live.drawn['in_view']:,} in "
                                          "view; ✚ class means)", ("x", "y")), {"cells": cells, "now": means}, left_col)
        if other:
            left_col.caption(f"With more than {ensemble.POINTS_MAX:,} samples the comparison and pinned samplers are "
                             "not drawn; their end results are in the summary below.")
    else:
        xy_now = now.cpu().numpy()
        points = pd.DataFrame({"x": xy_now[:, 0], "y": xy_now[:, 1], "class": labels.cpu().numpy()})
        points = points[np.isfinite(points.x) & np.isfinite(points.y)]
        live.drawn = {"samples": len(labels), "in_view": len(points)}
        compare = [pd.DataFrame({"x": [], "y": [], "sampler": []})]
        for name, path in other.items():  # the comparison and the pinned samplers at the same step t
            xy = (path[t] / scale[t]).cpu().numpy()
            keep = np.isfinite(xy).all(-1)
            compare.append(pd.DataFrame({"x": xy[keep, 0], "y": xy[keep, 1], "sampler": name}))
        compare = pd.concat(compare, ignore_index=True)
        charts.show(specs.samples_spec(), {"points": points, "means": means, "other": compare}, left_col)
    if left is not None:
        data = {"locus": locus(applied), "interval": pd.DataFrame({"x1": [left], "x2": [0.0], "y": [0.0],
                                                                  "what": ["stable real interval"]}),
                "z": pd.DataFrame({"re": z.real[finite_z], "im": z.imag[finite_z],
                                   "stable": np.where(inside[finite_z], "inside", "outside")})[:ensemble.POINTS_MAX]}
        reach = min(left * 1.6, -2.5, float(np.quantile(z.real[finite_z], 0.02)) * 1.1 if finite_z.any() else 0)
        x_min = -next(b for b in (2.5, 5, 10, 20, 50, 100, 200, 500, 1e3, 1e4, 1e9) if b >= -reach)
        charts.show(specs.region_spec(x_min), data, right_col)
        history = []
        for k in range(min(t, v["steps"] - 1) + 1):
            zk = z_at(k).real
            zk = zk[np.isfinite(zk)]
            if zk.size:
                history.append({"step": k, "worst δλ": float(zk.min()), "median δλ": float(np.median(zk))})
        frame = pd.DataFrame(history).melt("step", var_name="run", value_name="z")
        charts.show(specs.history_spec(round(real_interval_closed_form(method), 4)), {"series": frame}, right_col)
    else:
        right_col.info("DPM-Solver++ is not a linear multistep method, so it has no boundary-locus region here; "
                       "pick PLMS, HB, Nesterov or GHVB to see δλ against the region.", icon=":material/info:")


def render_browser(played, v: dict, method: str, model, grid: torch.Tensor, labels: torch.Tensor,
                   other: dict[str, torch.Tensor], ref: torch.Tensor) -> None:
    """Playback in the browser: the whole path as one chart (app_pages.diffusion_vega), built once per computed
    run (a report's rerun reuses it); what stays outside the chart describes the end of the run."""
    live, steps = played.live, v["steps"]
    key = (played.spec_id, played.reset_key, played.live_key, tuple(other), str(device()))
    cached = st.session_state.get(keys.widget(PAGE, "spec"))
    if cached is None or cached[0] != key:
        sigmas = grid.numpy()
        with measure(PAGE):  # on the device; what is drawn comes back
            scale = data_scale(grid, live.path)
            bad = off_reference(live.path, ref, scale)  # [N+1, B]
            z = np.stack([step_eigenvalues(model, labels, v["guidance"], live.path[k], float(sigmas[k]),
                                           float(sigmas[k + 1] - sigmas[k])) for k in range(steps)])
            xs = {f"now: {method}": (live.path / scale).cpu().numpy()}
            dense = len(labels) > ensemble.POINTS_MAX  # too many to draw one by one: a density per step
            cells = [ensemble.density_cells(live.path[k] / scale[k], SAMPLES_BOX) for k in range(steps + 1)] \
                if dense else None
            if not dense:
                xs.update({label: (path / scale).cpu().numpy() for label, path in other.items()})
        last = xs[f"now: {method}"][-1]
        drawn = {"samples": len(labels), "in_view": int(cells[-1]["count"].sum()) if dense
                 else int(np.isfinite(last).all(-1).sum())}
        spec = diffusion_vega.spec(method=method, sigmas=sigmas, xs=xs, classes=labels.cpu().numpy(), bad=bad, z=z,
                                   means=model.means.numpy(), cells=cells, box=SAMPLES_BOX,
                                   samples=len(labels), changes=played.changes, start=played.start_frame(),
                                   spec_id=played.spec_id, fps=played.anchor.fps)
        lost = diffusion_vega.divergence_text(steps, steps, bad, z.__getitem__, diffusion_vega.Region.of(method, steps))
        cached = (key, spec, drawn, lost)
        st.session_state[keys.widget(PAGE, "spec")] = cached
    _, spec, live.drawn, lost = cached
    with st.container():  # with or without the message, the chart below keeps its place (no remount)
        if lost:
            st.error(f"**At the end of the run (step {steps}): {method}** — {lost}", icon=":material/error:")
    st.caption("▶ and the grey bar above the chart play and scrub the whole path (computed once); every panel and "
               "the readout follow the step shown, and a setting changed mid-way continues from that step.")
    browser_playback.draw(PAGE, played, spec)
    if len(labels) > ensemble.POINTS_MAX and other:
        st.caption(f"With more than {ensemble.POINTS_MAX:,} samples the comparison and pinned samplers are not drawn; "
                   "their end results are in the summary below.")
    if diffusion_vega.Region.of(method, steps) is None:
        st.info("DPM-Solver++ is not a linear multistep method, so it has no boundary-locus region here; pick PLMS, "
                "HB, Nesterov or GHVB to see δλ against the region.", icon=":material/info:")


main()
