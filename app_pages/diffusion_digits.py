"""The diffusion page's "digits" mode: a 4×4 grid of one digit sampled by the trained denoiser, played step by
step, with the share of out-of-range pixels per step (the image artifacts of Wizadwongsa et al. 2024, Fig. 1).

The model is :mod:`steplab.diffusion.digits_model` (stored weights); each grid is one batched
``steplab.diffusion.sample`` call whose whole path is computed ahead and played with a cursor, as the ring mode
does (:class:`app_pages.live.SamplerPath`'s reasoning: a multistep sampler is no resumable optimizer run).
A pixel is out of range when |x| > 1.25 on the data scale [−1, 1] (:func:`out_of_range_fraction`), x = x̄/√(1+σ²).
"""

from __future__ import annotations

import math

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st
import torch

from app_pages import browser_playback, charts, diffusion_digits_vega, keys
from app_pages.charts import named, vega_spec
from app_pages.controls import Control, Controls
from app_pages.live import SamplerPath
from app_pages.player import playback
from app_pages.ui import device, measure, page_clock, reproduce_expander
from steplab.diffusion import method_name, noise, sample, sigma_grid
from steplab.diffusion.digits_experiments import (
    OUT_OF_RANGE_MARGIN,
    accuracy,
    digits_classifier,
    out_of_range_fraction,
)
from steplab.diffusion.digits_model import SIDE, load_digits_model

PAGE = "diffusion_digits"  # its own controls, player and result (the ring mode's are "diffusion")
MODE_KEY = keys.widget("diffusion", "mode")
MODES = {"ring": "2-D ring (exact mixture)", "digits": "8×8 digits (trained denoiser)"}
SAMPLERS = {"ddim": "DDIM (Euler)", "plms": "PLMS4", "dpm++": "DPM-Solver++(2M)", "hb": "PLMS4 + heavy ball (HB)",
            "ghvb": "GHVB (4th order)", "dpm++hb": "DPM-Solver++ + HB"}
CONTROLS = [
    Control("digit", "digit", "int", 3, low=0, high=9),
    Control("sampler", "Sampler", "select", "hb", options=tuple(SAMPLERS), labels=SAMPLERS),
    Control("beta", "damping β (1 = no momentum)", "float", 0.8, low=0.1, high=1.0, step=0.05,
            help="HB and GHVB at order 4: β = 0.8 is hb3.8 / ghvb3.8; DPM-Solver++ + HB: dpm++hb0.8"),
    Control("steps", "steps N (model evaluations)", "int", 8, low=2, high=50),
    Control("guidance", "guidance scale w", "float", 2.0, low=0.0, high=15.0, step=0.5,
            help="classifier-free guidance ε̂ = ε_u + w(ε_c − ε_u): w = 1 is the conditional model"),
    Control("seed", "seed", "int", 0, low=0, high=99),
    Control("compare", "compare with (same noise, digit, N and w)", "select", "plms4",
            options=("none", "ddim", "plms4", "dpm++", "hb3.8", "ghvb3.8")),
    Control("playback", "playback", "select", "browser", options=("browser", "server"),
            labels={"browser": "in the browser (the whole run sent once)",
                    "server": "on the server (a rerun per frame)"}),
]
GRID_SIDE = 4  # a 4×4 grid of samples of the chosen digit
ZOOM = 8  # screen pixels per image pixel


def selected_mode() -> str:
    """The sidebar's model radio (``?mode=digits`` in a link); warns on an unknown mode and uses the ring."""
    if MODE_KEY not in st.session_state:
        requested = st.query_params.get("mode", st.session_state.get(keys.saved(MODE_KEY), "ring"))
        if requested not in MODES:
            st.warning(f"Invalid link parameter `mode`: '{requested}' is not one of {', '.join(MODES)}; using ring.",
                       icon=":material/warning:")
            requested = "ring"
        st.session_state[MODE_KEY] = requested
    mode = st.sidebar.radio("Model", tuple(MODES), key=MODE_KEY, format_func=MODES.get, horizontal=True)
    st.session_state[keys.saved(MODE_KEY)] = mode  # kept while another page is shown
    return mode


@st.cache_resource(show_spinner="Loading the digits denoiser…")
def digits_model(where: str):
    return load_digits_model(device=where)


@st.cache_resource(show_spinner="Fitting the digits classifier (once per server)…")
def classifier_ready() -> bool:
    """Fit the accuracy readout's classifier once (seconds on a small CPU) under a spinner."""
    digits_classifier()
    return True


@st.cache_data(max_entries=32, show_spinner=False)
def comparison_path(method: str, digit: int, steps: int, guidance: float, seed: int) -> np.ndarray:
    """The comparison sampler's path [N+1, 16, 64] from the same noise and digit (one batched call, cached)."""
    model = digits_model(str(device()))
    x_t, labels = start_noise(seed, model.device), torch.full((GRID_SIDE**2,), digit, device=model.device)
    return sample(model, method, steps, guidance, x_t, labels, return_path=True)[1].cpu().numpy()


def start_noise(seed: int, where) -> torch.Tensor:
    return noise(GRID_SIDE**2, SIDE * SIDE, seed=seed, dtype=torch.float32, device=where)


def data_scale(path: torch.Tensor, sigmas: list[float]) -> torch.Tensor:
    """x_k = x̄_k/√(1 + σ_k²) for each step k of ``path`` [T, ...] (the state x_t on the data's [−1, 1] scale)."""
    return torch.stack([x_bar / math.sqrt(1.0 + sigma * sigma) for x_bar, sigma in zip(path, sigmas)])


def grid_image(x: torch.Tensor) -> np.ndarray:
    """16 samples [16, 64] as one RGB image: grey = (x + 1)/2, red: x > 1.25, blue: x < −1.25, magenta: NaN/inf."""
    limit = 1.0 + OUT_OF_RANGE_MARGIN
    tiles = x.numpy().reshape(GRID_SIDE, GRID_SIDE, SIDE, SIDE)
    grey = np.clip((np.nan_to_num(tiles, nan=0.0, posinf=1.0, neginf=-1.0) + 1.0) / 2.0, 0.0, 1.0)
    rgb = np.repeat(grey[..., None], 3, axis=-1)
    rgb[tiles > limit] = (0.95, 0.15, 0.15)
    rgb[tiles < -limit] = (0.15, 0.35, 0.95)
    rgb[~np.isfinite(tiles)] = (0.9, 0.0, 0.9)
    rgb = np.pad(rgb, ((0, 0), (0, 0), (1, 1), (1, 1), (0, 0)), constant_values=1.0)  # white gaps between tiles
    image = rgb.transpose(0, 2, 1, 3, 4).reshape(GRID_SIDE * (SIDE + 2), GRID_SIDE * (SIDE + 2), 3)
    return np.kron(image, np.ones((ZOOM, ZOOM, 1)))


def out_of_range_per_step(x: torch.Tensor) -> np.ndarray:
    """Share of out-of-range pixels at each step [T] of data-scale states x [T, 16, 64]."""
    return out_of_range_fraction(x).mean(dim=-1).numpy()


@vega_spec
def out_of_range_spec(steps: int) -> alt.Chart:
    return alt.Chart(named("series")).mark_line(point=True).encode(
        x=alt.X("step:Q", title="step n", scale=alt.Scale(domain=[0, steps]),
                axis=alt.Axis(format="d", tickMinStep=1)),
        y=alt.Y("fraction:Q", title="pixels out of range", axis=alt.Axis(format="%"),
                scale=alt.Scale(domain=[0, 1])),
        color=charts.run_color(),
        tooltip=[alt.Tooltip("run:N"), alt.Tooltip("step:Q"), alt.Tooltip("fraction:Q", format=".1%")],
    ).properties(height=180, title=f"pixels with |x| > {1 + OUT_OF_RANGE_MARGIN:g}, per step")


def reproduce_code(v: dict, method: str) -> str:
    return f"""import math

import torch
from steplab.diffusion import noise, sample, sigma_grid
from steplab.diffusion.digits_experiments import accuracy, out_of_range_fraction
from steplab.diffusion.digits_model import load_digits_model, to_pixels

model = load_digits_model()  # the stored trained denoiser
x_T = noise(16, 64, seed={v['seed']}, dtype=torch.float32, device=model.device)
labels = torch.full((16,), {v['digit']}, device=model.device)
x = sample(model, "{method}", steps={v['steps']}, guidance={v['guidance']:g}, x_T=x_T, class_labels=labels)
sigma_end = sigma_grid({v['steps']}).tolist()[-1]
x_end = x.cpu() / math.sqrt(1.0 + sigma_end * sigma_end)  # the data scale x = x̄/√(1+σ²) (σ_N ≈ 0.01)
print(f"out of range: {{out_of_range_fraction(x_end).mean().item():.1%}}, "
      f"classified as a {v['digit']}: {{accuracy(x_end, labels):.0%}}")
images = to_pixels(x_end)  # [16, 8, 8] in [0, 16]"""


def main() -> None:
    st.title("Heavy-ball diffusion sampling: digits")
    st.caption("A trained class-conditional denoiser on scikit-learn's 8×8 digits, sampled with few steps and "
               "strong guidance. High-order samplers (PLMS4) overshoot and saturate pixels; heavy-ball momentum "
               "(β < 1) damps them (Wizadwongsa et al. 2024, Fig. 1 on Stable Diffusion). Red/blue pixels are "
               f"above/below ±{1 + OUT_OF_RANGE_MARGIN:g} on the data scale [−1, 1], magenta ones not finite.")
    clock = page_clock(PAGE)
    ctl = Controls(PAGE, CONTROLS)
    ctl.show_warnings()
    v = {"digit": ctl("digit"), "sampler": ctl("sampler")}
    v["beta"] = ctl("beta", disabled=v["sampler"] in ("ddim", "plms", "dpm++"))
    for name in ("steps", "guidance", "seed", "compare", "playback"):
        v[name] = ctl(name)
    method = method_name(v["sampler"], 3.0 + v["beta"])  # order 4 (m = 3 + β); dpm++hb takes β = frac(m)
    with measure(PAGE):
        model = digits_model(str(device()))
        x_t = start_noise(v["seed"], model.device)
        labels = torch.full((GRID_SIDE**2,), v["digit"], device=model.device)
        grid = sigma_grid(v["steps"])
        eps = model.eps_fn(labels, v["guidance"])
        other = (None if v["compare"] in ("none", method) else
                 comparison_path(v["compare"], v["digit"], v["steps"], v["guidance"], v["seed"]))

    start, advance = SamplerPath.player(model, (method, v["guidance"]), x_t, labels, eps, grid)
    run = dict(steps=v["steps"], reset_key=(v["digit"], v["steps"], v["seed"]), live_key=(method, v["guidance"]),
               start=start, advance=advance)
    if v["playback"] == "browser":  # the whole path once per change; one chart plays it (app_pages.browser_playback)
        with measure(PAGE):  # a mid-run change keeps x̄_0..x̄_k of the path shown and integrates on from x̄_k
            played = browser_playback.playback(PAGE, **run, resume=SamplerPath.cut)
        live = played.live
        render_browser(played, v, method, grid.tolist(), other)
    else:
        live = playback(PAGE, **run, render=lambda live, state: render(live, v, method, grid.tolist(), other))["live"]
    final = data_scale(live.path[-1:].cpu(), grid.tolist()[-1:])[0]  # x_N = x̄_N/√(1 + σ_N²)
    with measure(PAGE):
        classifier_ready()
        finite = torch.isfinite(final).all(dim=-1)  # a diverged sample counts as wrong (the classifier needs numbers)
        score = accuracy(final[finite], labels.cpu()[finite]) * float(finite.double().mean()) if finite.any() else 0.0
        final_out = float(out_of_range_fraction(final).mean())
    st.markdown(f"**At the end ({v['steps']} steps, w = {v['guidance']:g}):** {method}: {final_out:.1%} of the "
                f"pixels out of range, {score:.0%} of the 16 samples classified as a {v['digit']} (logistic "
                "regression on the same digits).")
    reproduce_expander(reproduce_code(v, method), "Changes made mid-run are not included.")
    st.session_state.setdefault(keys.result(PAGE), {}).update(t=live.t, method=method, accuracy=score,
                                                               out_of_range_end=final_out, final=final.numpy())
    clock.show()
    ctl.finish(extra={"mode": "digits"})


def render(live: SamplerPath, v: dict, method: str, sigmas: list[float], other: np.ndarray | None) -> None:
    t = live.t
    shown = data_scale(live.path[: t + 1].cpu(), sigmas)  # x_0..x_t, [t+1, 16, 64]
    mine = out_of_range_per_step(shown)
    series = {f"1 · {method}": mine}
    other_shown = None if other is None else data_scale(torch.from_numpy(other[: t + 1]), sigmas)
    theirs = None if other_shown is None else out_of_range_per_step(other_shown)
    if theirs is not None:
        series[f"2 · {v['compare']}"] = theirs
    cols = st.columns(3)
    cols[0].metric("step", f"{t} / {v['steps']}", help=f"σ = {sigmas[t]:.3g}")
    cols[1].metric(f"out of range now ({method})", f"{mine[-1]:.1%}",
                   help=f"share of the 16×64 pixels of x_t with |x| > {1 + OUT_OF_RANGE_MARGIN:g}")
    if theirs is not None:
        cols[2].metric(f"out of range now ({v['compare']})", f"{theirs[-1]:.1%}")
    st.session_state.setdefault(keys.result(PAGE), {}).update(frame_t=t, out_of_range=mine)  # this frame's readout
    left, right = st.columns(2)
    left.image(grid_image(shown[-1]), caption=f"{method}, step {t}: x_t = x̄/√(1+σ²), digit {v['digit']}")
    if other is not None:
        right.image(grid_image(other_shown[-1]),
                    caption=f"{v['compare']}, step {t} (same noise)")
    frame = pd.DataFrame([{"step": k, "run": name, "fraction": float(f)}
                          for name, values in series.items() for k, f in enumerate(values)])
    charts.show(out_of_range_spec(v["steps"]), {"series": frame})
    st.caption("Step 0 is pure noise N(0, 1), of which 21 % lies beyond ±1.25; the trained model's DDIM samples at "
               "N = 50, w = 1 have about 4 % (our regression value, 40 samples of all digits).")


def render_browser(played, v: dict, method: str, sigmas: list[float], other: np.ndarray | None) -> None:
    """Playback in the browser: both grids, the out-of-range share per step and the readout as one chart
    (app_pages.diffusion_digits_vega) following the step shown."""
    shown = data_scale(played.live.path.cpu(), sigmas)  # x_0..x_N, [N+1, 16, 64]
    names, states = [method], [shown]
    if other is not None:
        names.append(v["compare"])
        states.append(data_scale(torch.from_numpy(other), sigmas))
    shares = [out_of_range_per_step(x) for x in states]
    limit = 1 + OUT_OF_RANGE_MARGIN
    st.session_state.setdefault(keys.result(PAGE), {}).update(frame_t=played.live.t, out_of_range=shares[0])
    st.caption("▶ and the grey bar above the chart play and scrub the whole path (computed once); the grids, the "
               "share per step and the readout follow the step shown, and a setting changed mid-way continues from "
               "that step.")
    browser_playback.draw(PAGE, played, diffusion_digits_vega.spec(
        names=names, codes=[diffusion_digits_vega.pixel_codes(x.numpy(), limit) for x in states],
        out_of_range=shares, sigmas=sigmas, digit=v["digit"], limit=limit, changes=played.changes,
        start=played.start_frame(), spec_id=played.spec_id, fps=played.anchor.fps))
    st.caption("Step 0 is pure noise N(0, 1), of which 21 % lies beyond ±1.25; the trained model's DDIM samples at "
               "N = 50, w = 1 have about 4 % (our regression value, 40 samples of all digits).")
