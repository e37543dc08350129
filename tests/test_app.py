"""Dashboard tests with Streamlit's AppTest: every page loads, every control's extremes work, the
transport buttons do what they say, presets and invalid links, and the "Reproduce" code matches.

AppTest never fires ``st.fragment(run_every=...)`` timers, so playback is tested by calling ``run()``
repeatedly: each run of a playing page advances its fragment by one frame.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import torch

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

from steplab import claims, logistic  # noqa: E402
from steplab.diffusion import balanced_labels, noise, ring_gmm, sample  # noqa: E402
from steplab.problems import Noisy, Quadratic, TwoPointNoise  # noqa: E402
from steplab.rnn.cliff import descend  # noqa: E402
from steplab.trajectory import run  # noqa: E402
from steplab.transforms import optimizer  # noqa: E402

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PAGES = ["app_pages/playground.py", "app_pages/clipping.py", "app_pages/logistic.py", "app_pages/diffusion.py",
         "app_pages/rnn.py", "app_pages/about.py"]
TIMEOUT = 120


def open_app(page: str | None = None, **params) -> AppTest:
    """Open the app at ``page`` (default: the playground) as if from a URL with ``params``."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    if page is not None:
        at.switch_page(page)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def widget(at: AppTest, key: str):
    for kind in ("slider", "select_slider", "selectbox", "toggle"):
        for element in getattr(at, kind):
            if element.key == key:
                return element
    raise KeyError(key)


def player(at: AppTest, page: str):
    """The page's player state: a dict for the server player (``?playback=server``), a
    :class:`app_pages.browser_playback.Played` for playback in the browser."""
    return at.session_state[f"_player.{page}"]


def live_of(at: AppTest, page: str):
    """The page's live run, whichever player holds it."""
    state = player(at, page)
    return state["live"] if isinstance(state, dict) else state.live


def click(at: AppTest, key: str) -> AppTest:
    at.button(key=key).click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def pin_settings(at: AppTest, page: str, settings: list[dict]) -> AppTest:
    """Pin the current setting, move to the next one, ... (3 pins: the cap), then check the cap message."""
    for values in settings:
        assert not at.button(key=f"{page}.pin").disabled
        click(at, f"{page}.pin")
        for key, value in values.items():
            widget(at, key).set_value(value).run()
            assert not at.exception, [e.value for e in at.exception]
    assert len(at.session_state[f"{page}.pins"]) == 3 and at.button(key=f"{page}.pin").disabled
    assert any("the most a page overlays (4): clear the pins" in c.value for c in at.caption)
    assert "pins" in at.query_params
    return at


def clear_pins(at: AppTest, page: str) -> AppTest:
    click(at, f"{page}.unpin")
    assert at.session_state[f"{page}.pins"] == [] and "pins" not in at.query_params
    return at


# ----------------------------------------------------------------------------- every page


def sources_referenced(node) -> set[str]:
    """Every named data source a Vega-Lite spec (or one of its layers) reads: ``{"data": {"name": ...}}``."""
    if isinstance(node, list):
        return set().union(*map(sources_referenced, node)) if node else set()
    if not isinstance(node, dict):
        return set()
    names = {node["data"]["name"]} if isinstance(node.get("data"), dict) and "name" in node["data"] else set()
    return names.union(*(sources_referenced(v) for k, v in node.items() if k != "datasets"))


def flattened(values: list[dict]) -> pd.DataFrame:
    """Inline Vega rows whose list fields the browser flattens (one row per run, arrays of steps and values)."""
    frame = pd.DataFrame(values)
    lists = [c for c in frame.columns if len(frame) and isinstance(frame[c].iloc[0], list)]
    return frame.explode(lists, ignore_index=True).infer_objects() if lists else frame


def player_panels(spec: dict) -> list[tuple[str, dict]]:
    """A browser player's panels (app_pages.browser_player): each group's title and its inline data sets."""
    panels = []
    for mark in spec.get("marks", []):
        if mark.get("type") == "group" and mark.get("data"):
            title = mark.get("title", {})
            title = title.get("text", "") if isinstance(title, dict) else str(title)
            title = " ".join(title) if isinstance(title, list) else title  # a wrapped title's lines
            panels.append((title, {d["name"]: flattened(d["values"]) for d in mark["data"] if "values" in d}))
    return panels


def charts_drawn(at: AppTest) -> list[tuple[str, dict]]:
    """Every chart on the page: its title and its named data sets (as data frames); a browser player's panels
    count as charts of their own (their inline data flattened).

    Checks on the way that every source a layer reads was sent (a missing one draws nothing, silently)."""
    drawn = []
    for chart in at.get("vega_lite_chart"):
        spec = json.loads(chart.proto.spec)
        if spec.get("$schema", "").startswith("https://vega.github.io/schema/vega/"):
            drawn += player_panels(spec)
            continue
        title = spec.get("title", "")
        frames = {d.name: pa.ipc.open_stream(d.data.data).read_all().to_pandas() for d in chart.proto.datasets}
        missing = sources_referenced(spec) - set(frames) - set(spec.get("datasets", {}))
        assert not missing, f"chart {title!r} reads data sets that were not sent: {sorted(missing)}"
        drawn.append((title if isinstance(title, str) else " ".join(map(str, title)) if isinstance(title, list)
                      else str(title), frames))
    return drawn


def finite_rows(frame) -> int:
    """Rows whose numbers are all finite (a page whose compute returns NaN draws none)."""
    numbers = frame.select_dtypes("number").to_numpy(dtype=float)
    return int(np.isfinite(numbers).all(axis=1).sum()) if len(frame) else 0


# page -> the main charts (a fragment of the title, or "" for any chart) and a data set each must draw rows of
MAIN_CHARTS = {
    "app_pages/playground.py": [("path on the loss landscape", "paths"), ("path on the loss landscape", "iso"),
                                ("error along each eigen-direction", "errors_lines"), ("loss f(x_t)", "loss_lines"),
                                ("gradient norm ‖g_t‖", "grads_lines"), ("", "stable"), ("", "here")],
    "app_pages/clipping.py": [("where the chains are", "hist_rows"), ("mean over chains of x_t", "mean_lines"),
                              ("measured bias vs theory", "curve_theory"), ("measured bias vs theory", "curve_bias")],
    "app_pages/logistic.py": [("decision boundaries", "points"), ("decision boundaries", "lines"),
                              ("loss f(θ_t)", "loss_lines"), ("normalized margin", "margin_lines"),
                              ("training accuracy", "accuracy_lines"), ("training accuracy", "accuracy_markers"),
                              ("gradient norm ‖∇f(θ_t)‖", "grads_lines"), ("normalized step r_t", "steps_lines")],
    "app_pages/diffusion.py": [("samples now", "samples"), ("stability region", "locus"), ("stability region", "z"),
                               ("δλ per step so far", "history_lines"), ("readout at this step", "readout")],
    "app_pages/rnn.py": [("loss surface", "cells"), ("loss surface", "paths"),
                         ("gradient norm per step", "grads_lines"), ("loss E₅₀ per step", "loss_lines"),
                         ("against the distance T − k", "series")],
    "app_pages/about.py": [],
}


@pytest.mark.parametrize("page", PAGES)
def test_every_page_loads_without_exception(page):
    at = open_app(page)
    assert at.title, f"{page} shows no title"
    drawn = charts_drawn(at)
    t = at.session_state[f"_result.{Path(page).stem}"]["t"] if MAIN_CHARTS[page] else 0
    assert t >= 1 or page == "app_pages/about.py"
    for title, dataset in MAIN_CHARTS[page]:  # a page whose compute breaks (raises, or returns NaN) fails here
        frames = [frames[dataset] for shown, frames in drawn if title in shown and dataset in frames]
        assert any(finite_rows(frame) > 0 for frame in frames), (page, title, dataset, [s for s, _ in drawn])
        for frame in frames:  # a per-step series reaches the last step shown (t, or t - 1 for per-update values)
            if "step" in frame and dataset == "series":
                assert frame["step"][np.isfinite(frame.select_dtypes("number")).all(axis=1)].max() >= t - 1, title


# ----------------------------------------------------------------------------- playground


def test_playground_default_view_converges_and_mirrors_every_control_in_the_url():
    at = open_app()
    result = at.session_state["_result.playground"]
    assert result["t"] == 60 and result["diverged_at"] == -1 and result["loss"] < 1e-6
    for name in ("problem", "eta", "beta", "method", "clip", "c", "noise", "steps", "seed", "x0", "y0"):
        assert name in at.query_params, name
    assert at.query_params["eta"] == ["0.15"] or at.query_params["eta"] == "0.15"
    table = at.dataframe[0].value  # GD on eigenvalues (1, 10) at eta = 0.15: rate max|1 - eta lambda| = 0.85
    assert table["rate/step theory"][0] == "0.8500" and table["rate/step measured"][0] == "0.8500"


# page -> query parameters that enable every control (nothing disabled), and a select to cycle through
EXTREMES = {
    "playground": ({"method": "heavy_ball", "clip": "1"}, "playground.method"),
    "clipping": ({"noise": "two_point"}, "clipping.noise"),
    "logistic": ({"method": "capped_lr_gd"}, "logistic.data"),
    "diffusion": ({"family": "hb", "samples": "64"}, "diffusion.family"),
    "rnn": ({}, None),
}


def slider_keys(at: AppTest) -> list[str]:
    return [w.key for kind in ("slider", "select_slider") for w in getattr(at, kind) if w.key and not w.disabled]


@pytest.mark.parametrize("page", list(EXTREMES))
def test_every_slider_at_its_min_and_max(page):
    params, select = EXTREMES[page]
    at = open_app(None if page == "playground" else f"app_pages/{page}.py", **params)
    keys = slider_keys(at)
    assert len(keys) >= 4
    for key in keys:
        element = widget(at, key)
        options = getattr(element, "options", None)
        low, high = (options[0], options[-1]) if options else (element.min, element.max)
        for value in (low, high, low):
            widget(at, key).set_value(float(value) if options else value).run()
            assert not at.exception, (key, value, [e.value for e in at.exception])
            assert at.session_state[f"_result.{page}"]["t"] >= 1
    for option in widget(at, select).options if select else []:
        widget(at, select).set_value(option).run()
        assert not at.exception, (select, option, [e.value for e in at.exception])


def test_playground_objectives_and_clipping_toggle():
    at = open_app()
    for problem in ("rosenbrock", "cosh", "quadratic"):
        widget(at, "playground.problem").set_value(problem).run()
        assert not at.exception
        assert at.session_state["_result.playground"]["t"] == 60
    widget(at, "playground.clip").set_value(True).run()
    assert not at.exception


def test_playground_divergence_is_reported_in_words():
    at = open_app(eta="0.3")
    assert at.session_state["_result.playground"]["diverged_at"] > 0
    errors = " ".join(e.value for e in at.error)
    assert "diverged at step" in errors and "η = 0.3 > 2/L = 0.2" in errors
    assert not at.exception


def test_play_step_reset_and_mid_run_change_keeps_the_iterate():
    at = open_app(playback="server")
    frame = max(1, 60 // 60)
    click(at, "playground.play")  # finished run -> restart from 0 and advance one frame in this run
    state = player(at, "playground")
    assert state["playing"] and state["live"].t == frame
    at.run()  # a playing fragment advances once per run
    assert live_of(at, "playground").t == 2 * frame
    click(at, "playground.pause")
    t = live_of(at, "playground").t
    at.run()
    assert live_of(at, "playground").t == t  # paused: nothing moves
    click(at, "playground.reset")
    assert live_of(at, "playground").t == 0 and not player(at, "playground")["playing"]
    for _ in range(3):
        click(at, "playground.step")
    live = live_of(at, "playground")
    assert live.t == 3
    x3 = live.history.iterates[3][0].numpy().copy()
    widget(at, "playground.eta").set_value(0.05).run()  # change eta mid-run
    live = live_of(at, "playground")
    assert live.t == 3 and np.array_equal(live.history.iterates[3][0], x3)
    click(at, "playground.step")
    live = live_of(at, "playground")
    problem = Quadratic([1.0, 10.0], rotation=math.radians(30))
    grad = problem.oracle(torch.tensor(x3).reshape(1, 2))[1][0].numpy()
    np.testing.assert_allclose(live.history.iterates[4][0], x3 - 0.05 * grad, rtol=1e-12)  # new step size used
    assert player(at, "playground")["changes"] == [3]


def test_playback_runs_to_the_end_and_pauses():
    at = open_app(steps="10", playback="server")
    click(at, "playground.play")
    for _ in range(12):
        at.run()
        assert not at.exception
    state = player(at, "playground")
    assert state["live"].t == 10 and not state["playing"]


def test_pinned_runs_overlay_with_the_same_start():
    at = open_app()
    click(at, "playground.pin")
    widget(at, "playground.method").set_value("heavy_ball").run()
    live = live_of(at, "playground")
    iterates = live.history.iterates
    assert iterates[0].shape == (2, 2) and np.array_equal(iterates[0][0], iterates[0][1])
    assert "pins" in at.query_params
    click(at, "playground.unpin")
    assert live_of(at, "playground").history.iterates[0].shape == (1, 2)


def test_query_preset_is_restored():
    at = open_app(eta="0.05", method="heavy_ball", beta="0.9", steps="40", seed="3", clip="1", c="0.5")
    assert widget(at, "playground.eta").value == 0.05
    assert widget(at, "playground.method").value == "heavy_ball"
    assert widget(at, "playground.beta").value == 0.9
    assert widget(at, "playground.clip").value is True
    assert at.session_state["_result.playground"]["t"] == 40
    assert not at.warning


@pytest.mark.parametrize("params", [{"eta": "abc"}, {"eta": "nan"}, {"eta": "7"}, {"steps": "3.5"},
                                    {"method": "adam"}, {"clip": "maybe"}])
def test_invalid_query_values_fall_back_with_a_warning(params):
    at = open_app(**params)
    (name, raw), = params.items()
    assert any(f"`{name}`" in w.value for w in at.warning), [w.value for w in at.warning]
    defaults = {"eta": 0.15, "steps": 60, "method": "gd", "clip": False}
    assert widget(at, f"playground.{name}").value == defaults[name]


@pytest.mark.parametrize("page,params,key,default", [
    ("clipping", {"c": "-1"}, "clipping.c", 1.0),
    ("logistic", {"steps": "lots"}, "logistic.steps", 100),
    ("diffusion", {"guidance": "inf"}, "diffusion.guidance", 15.0),
    ("rnn", {"eta": "1e9"}, "rnn.eta", 1.0),
])
def test_every_page_warns_on_invalid_links(page, params, key, default):
    at = open_app(f"app_pages/{page}.py", **params)
    (name, _), = params.items()
    assert any(f"`{name}`" in w.value for w in at.warning), [w.value for w in at.warning]
    assert widget(at, key).value == default


def test_query_params_of_one_page_do_not_leak_into_the_next():
    at = open_app(eta="0.3", steps="20")  # playground preset
    at.switch_page("app_pages/rnn.py").run()
    assert not at.warning and widget(at, "rnn.eta").value == 1.0 and widget(at, "rnn.steps").value == 80


def test_hide_list_hides_controls_but_keeps_their_values():
    at = open_app(hide="eta,beta", eta="0.05")
    keys = {w.key for kind in ("slider", "select_slider") for w in getattr(at, kind)}
    assert "playground.eta" not in keys and "playground.beta" not in keys and "playground.steps" in keys
    assert at.query_params["eta"] in ("0.05", ["0.05"])
    assert "hide" in at.query_params


def test_reproduce_code_computes_the_same_numbers_as_the_page():
    cases = [{}, {"method": "nesterov", "beta": "0.6", "clip": "1", "c": "2", "noise": "0.5", "seed": "4"},
             {"problem": "rosenbrock", "eta": "0.001", "method": "heavy_ball", "beta": "0.8"},
             {"eta": "0.3"}]
    for params in cases:
        at = open_app(**params)
        code = next(c.value for c in at.code if "from steplab" in c.value)
        namespace: dict = {}
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(code, "<reproduce>", "exec"), namespace)  # noqa: S102 - the code the page shows
        traj = namespace["traj"]
        page = at.session_state["_result.playground"]
        assert traj.steps == page["t"]
        assert float(traj.loss[-1, 0]) == pytest.approx(page["loss"], rel=1e-12), params
        assert int(traj.diverged_at[0]) == page["diverged_at"], params


# ----------------------------------------------------------------------------- clipping


def test_clipping_page_measures_the_bias_floor_and_its_code_reproduces_it():
    at = open_app("app_pages/clipping.py")
    page = at.session_state["_result.clipping"]
    assert page["theory"] == pytest.approx(2 / 9, rel=1e-6)  # two-point sigma=1, p=0.1, c=1: bias 2/9
    assert abs(page["bias"] - page["theory"]) < 0.02
    assert not at.metric[1].delta  # 500 steps: the burn-in 250 is past 6 relaxation times 1/(0.03 * 0.9) = 37
    code = next(c.value for c in at.code if "from steplab" in c.value)
    namespace: dict = {}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(code, "<reproduce>", "exec"), namespace)  # noqa: S102 - the code the page shows
    assert namespace["bias"] == pytest.approx(page["bias"], rel=1e-9)


@pytest.mark.parametrize("mode, theory", [("per_sample", 2 / 9), ("batch", 0.0217368)])
def test_clipping_batch_toggle_per_sample_keeps_the_bias_batch_shrinks_it(mode, theory):
    at = open_app("app_pages/clipping.py", batch="4", mode=mode, steps="1000")
    page = at.session_state["_result.clipping"]
    assert page["theory"] == pytest.approx(theory, rel=1e-5)  # two-point, c = 1, b = 4 (binomial root for batch)
    assert abs(page["bias"] - page["theory"]) < 0.02
    code = next(c.value for c in at.code if "from steplab" in c.value)
    namespace: dict = {}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(code, "<reproduce>", "exec"), namespace)  # noqa: S102 - the code the page shows
    assert namespace["bias"] == pytest.approx(page["bias"], rel=1e-9)
    assert any("the rate" in shown for shown, _ in charts_drawn(at))


def test_clipping_reset_shows_step_zero_and_steps_on():
    at = open_app("app_pages/clipping.py", chains="16", steps="100", playback="server")
    click(at, "clipping.reset")  # t = 0: no tail window to average yet, the bias shown is |x_0| = 0
    assert at.session_state["_result.clipping"]["t"] == 0 and at.session_state["_result.clipping"]["bias"] == 0
    click(at, "clipping.step")
    assert live_of(at, "clipping").t == 1
    assert "not yet stationary" in at.metric[1].delta  # t // 2 = 0 < 6 relaxation times


def test_clipping_sweep_button_measures_the_curve():
    at = open_app("app_pages/clipping.py", eta="0.05")
    click(at, "clipping.sweep")
    assert at.session_state["clipping.sweep_for"][3] == 0.05


def test_clipping_sweep_runs_each_threshold_past_its_relaxation_time():
    at = open_app("app_pages/clipping.py", noise="exp")  # c = 0.05: relaxation 1/(η h′) ≈ 1/(0.03 · 0.05) ≈ 650
    click(at, "clipping.sweep")
    table = at.dataframe[1].value
    measured, error = (float(v) for v in table["measured bias ± 2 s.e."][0].split(" ± "))
    assert float(table["c"][0]) == pytest.approx(0.05) and float(table["theory"][0]) == pytest.approx(0.3064, abs=1e-4)
    assert abs(measured - 0.3064) < max(error, 0.006)  # a 2000-step run read 0.265 here
    assert int(table["steps run (burn-in half)"][0]) >= 2 * 6 * 600  # burn-in >= 6 relaxation times


def test_clipping_pins_overlay_settings_on_the_same_noise_and_match_run():
    at = open_app("app_pages/clipping.py", chains="16", steps="100")
    pin_settings(at, "clipping", [{"clipping.c": 0.5, "clipping.eta": 0.05}, {"clipping.c": 2.0, "clipping.eta": 0.01},
                                  {"clipping.c": 0.2, "clipping.eta": 0.1}])
    page = at.session_state["_result.clipping"]
    assert page["runs"] == [(0.2, 0.1), (None, 0.1), (1.0, 0.03), (0.5, 0.05), (2.0, 0.01)]
    table = at.dataframe[0].value
    assert list(table["run"]) == page["labels"] and list(table["c"]) == ["0.2", "∞", "1", "0.5", "2"]
    assert list(table["η"]) == ["0.1", "0.1", "0.03", "0.05", "0.01"]
    assert "3 · pin 1: c = 1, η = 0.03" in page["labels"]
    problem = Noisy(Quadratic([1.0]), TwoPointNoise(1.0, 0.1))
    for (c, eta), bias in zip(page["runs"], page["biases"], strict=True):  # each run alone, same seed and start
        traj = run(problem, optimizer(lr=eta, clip_threshold=c), torch.zeros(16, 1, dtype=torch.float64), 100, seed=0)
        chain_mean = traj.iterates[:, :, 0].mean(1)
        assert bias == pytest.approx(chain_mean[50:100].mean().abs().item(), rel=1e-9), (c, eta)  # t in [T/2, T)
    clear_pins(at, "clipping")
    assert len(at.dataframe[0].value) == 2


# ----------------------------------------------------------------------------- logistic


def test_logistic_page_matches_run_on_and_continues_mid_run():
    at = open_app("app_pages/logistic.py", method="normalized_lr_gd", steps="40", playback="server")
    page = at.session_state["_result.logistic"]
    code = next(c.value for c in at.code if "from steplab" in c.value)
    namespace: dict = {}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(code, "<reproduce>", "exec"), namespace)  # noqa: S102 - the code the page shows
    np.testing.assert_allclose(namespace["history"].loss[-1].numpy(), page["loss"], rtol=1e-12)
    click(at, "logistic.reset")
    click(at, "logistic.step")
    click(at, "logistic.step")
    theta2 = live_of(at, "logistic").history.iterates[2].numpy().copy()
    widget(at, "logistic.gamma_max").set_value(10.0).run()
    live = live_of(at, "logistic")
    assert live.t == 2 and np.array_equal(live.history.iterates[2], theta2)


def test_logistic_page_hint_status_and_margin_at_defaults():
    """At the defaults (Wu toy, gamma 0.1..1000) the gamma = 1000 run's loss peaks far above log 2: the hint fires;
    the status says from when each run stays separated, and the margin column is min_i m_i / ||theta_T||; the
    whole run is computed at once (playback in the browser), and the hint says it is about the whole run."""
    at = open_app("app_pages/logistic.py")
    assert any(i.value.startswith("Over the whole run (steps 0–100), run 4 · γ = 1000 rose to loss") for i in at.info)
    table = at.dataframe[0].value
    assert table["status"][0] == "not separated by step 100"  # gamma = 0.1 needs more than 100 steps
    assert all("stays separated from t =" in s for s in table["status"][1:])
    dataset = logistic.wu_toy()
    history = logistic.run_on(dataset, [1000.0], 100)
    margin = float(logistic.metrics.normalized_margin(history.weights[-1, 0], dataset.signed))
    assert float(table["margin"][3]) == pytest.approx(margin, rel=1e-2) and "max r so far" in table.columns
    quiet = open_app("app_pages/logistic.py", gamma_max="1", gamma_min="0.1", runs="2")
    assert not any("rose to loss" in i.value for i in quiet.info)


def test_logistic_page_marks_where_each_run_stays_separated():
    at = open_app("app_pages/logistic.py")
    table = at.dataframe[0].value
    accuracy = next(frames for title, frames in charts_drawn(at) if title.startswith("training accuracy"))
    drawn = accuracy["accuracy_markers"]
    assert [table["run"][r] for r in drawn["r"]] == list(drawn["run"])  # each diamond in its run's colour
    markers = drawn.set_index("run")["s"]
    for label, status in zip(table["run"], table["status"]):
        if "stays separated from t =" in status:
            assert markers[label] == int(status.rsplit("=", 1)[1])  # the diamond sits where the status says
        else:
            assert label not in markers.index
    assert len(markers) == sum("stays separated from" in s for s in table["status"]) >= 3  # all but gamma = 0.1


# ----------------------------------------------------------------------------- diffusion


def run_code(at: AppTest) -> dict:
    code = next(c.value for c in at.code if "from steplab" in c.value)
    namespace: dict = {}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(code, "<reproduce>", "exec"), namespace)  # noqa: S102 - the code the page shows
    return namespace


def test_diffusion_page_matches_its_code_and_reports_divergence():
    at = open_app("app_pages/diffusion.py", family="plms", m="4", steps="8", guidance="15", samples="128")
    page = at.session_state["_result.diffusion"]
    namespace = run_code(at)
    np.testing.assert_array_equal(namespace["x"].numpy(), page["final"])
    scale = namespace["scale"]
    fraction = float(namespace["divergence_fraction"](namespace["x"] / scale, namespace["reference"] / scale))
    assert fraction == pytest.approx(page["divergence"]) and fraction > 0  # PLMS4 at N = 8, w = 15 diverges
    assert page["right"] == pytest.approx(float(namespace["assigned_fraction"](namespace["x"], namespace["model"].means,
                                                                               namespace["labels"])))
    assert any("diverged since step" in e.value and "stability interval of" in e.value for e in at.error)
    hb = open_app("app_pages/diffusion.py", family="hb", m="3.6", steps="8", guidance="15", samples="128")
    assert hb.session_state["_result.diffusion"]["divergence"] == 0 < fraction  # HB 0.6 stretches the interval
    assert hb.session_state["_result.diffusion"]["right"] == 1.0 > page["right"]


def test_diffusion_defaults_show_the_effect_and_count_the_applied_region():
    """Defaults (hb3.6 vs plms4, N = 8, w = 15): a plain difference; the δλ counter at step 0 uses Euler's region."""
    at = open_app("app_pages/diffusion.py", samples="128", playback="server")
    runs = at.session_state["_result.diffusion"]["runs"]
    assert runs["now: hb3.6"] == 0.0 and runs["compare: plms4"] >= 0.3
    click(at, "diffusion.reset")
    metric = next(m for m in at.metric if m.label.startswith("δλ outside"))
    assert "ddim's region, step 0→1" in metric.label  # HB's first step is an Euler step (v_1 = e_0)


def test_diffusion_mid_run_change_keeps_the_samples():
    at = open_app("app_pages/diffusion.py", samples="64", playback="server")
    click(at, "diffusion.reset")
    for _ in range(3):
        click(at, "diffusion.step")
    live = live_of(at, "diffusion")
    x3 = live.path[3].clone()
    widget(at, "diffusion.family").set_value("ddim").run()
    click(at, "diffusion.step")
    live = live_of(at, "diffusion")
    assert live.t == 4 and torch.equal(live.path[3], x3) and live.plan[0] == "ddim"


def test_diffusion_pins_overlay_samplers_on_the_same_noise_and_match_sample():
    at = open_app("app_pages/diffusion.py", samples="64")
    pin_settings(at, "diffusion", [{"diffusion.family": "hb", "diffusion.m": 2.5},
                                   {"diffusion.family": "ghvb", "diffusion.m": 3.5},
                                   {"diffusion.family": "nt", "diffusion.m": 3.5}])
    page = at.session_state["_result.diffusion"]
    names = ["now: nt3.5", "compare: plms4", "pin 1: hb3.6", "pin 2: hb2.5", "pin 3: ghvb3.5"]
    assert list(page["runs"]) == names and list(at.dataframe[0].value["run"]) == names
    model = ring_gmm()
    x_t, labels = noise(64, 2, seed=0), balanced_labels(64, model.classes)
    for label in names[1:]:
        alone = sample(model, label.split(": ")[1], 8, 15.0, x_t, labels)  # the page's defaults N = 8, w = 15
        np.testing.assert_array_equal(page["finals"][label], alone.numpy())
    clear_pins(at, "diffusion")
    assert not at.dataframe  # the sampler table appears with pins only


# ----------------------------------------------------------------------------- rnn


def test_rnn_page_clipping_survives_the_cliff_and_matches_descend():
    at = open_app("app_pages/rnn.py")
    page = at.session_state["_result.rnn"]
    namespace = run_code(at)
    assert namespace["clipped"].loss[-1, 0].item() == pytest.approx(page["loss"][0], rel=1e-12)
    assert namespace["plain"].loss[-1, 0].item() == pytest.approx(page["loss"][1], rel=1e-12)
    assert page["loss"][0] < 0.01 < page["loss"][1]  # clipped reaches the valley, unclipped is thrown off
    assert any("thrown off the cliff" in e.value for e in at.error)
    assert page["vanishing_rows"] > 200  # the vanishing view: 6 curves of up to 50 positive norms


def test_rnn_pins_overlay_settings_from_the_same_start_and_match_descend():
    at = open_app("app_pages/rnn.py", steps="40")
    pin_settings(at, "rnn", [{"rnn.eta": 0.5, "rnn.c": 2.0}, {"rnn.eta": 2.0, "rnn.c": 0.5},
                             {"rnn.eta": 0.1, "rnn.c": 10.0}])
    page = at.session_state["_result.rnn"]
    assert page["runs"] == [(0.1, 10.0), (0.1, None), (1.0, 1.0), (0.5, 2.0), (2.0, 0.5)]
    assert list(at.dataframe[0].value["run"]) == page["labels"] and page["labels"][4] == "5 · pin 3: η = 2, c = 0.5"
    start = torch.tensor([[5.0, -2.3]], dtype=torch.float64)
    for r, (eta, c) in enumerate(page["runs"]):
        alone = descend(start, lr=eta, clip_threshold=c, steps=40)
        assert page["loss"][r] == pytest.approx(alone.loss[-1, 0].item(), rel=1e-12), (eta, c)
        np.testing.assert_allclose(page["final"][r], alone.final[0].numpy(), rtol=1e-12)
    clear_pins(at, "rnn")
    assert len(at.dataframe[0].value) == 2


def test_pins_are_restored_from_the_link_and_invalid_ones_warn():
    at = open_app("app_pages/rnn.py", pins="0.5:2;2:0.5")
    assert at.session_state["rnn.pins"] == [(0.5, 2.0), (2.0, 0.5)] and not at.warning
    assert len(at.session_state["_result.rnn"]["loss"]) == 4
    bad = open_app("app_pages/rnn.py", pins="0.5:2;9:1")
    assert any("`pins`" in w.value for w in bad.warning) and bad.session_state["rnn.pins"] == []


def test_one_pin_order_on_every_page():
    """Links write a (step size, clip threshold) pin as eta:c on the clipping and RNN pages alike."""
    clip = open_app("app_pages/clipping.py", chains="16", steps="100", pins="0.05:0.5")
    assert clip.session_state["clipping.pins"] == [(0.5, 0.05)] and not clip.warning  # the page holds (c, η)
    assert clip.query_params["pins"] in ("0.05:0.5", ["0.05:0.5"])
    assert "3 · pin 1: c = 0.5, η = 0.05" in clip.session_state["_result.clipping"]["labels"]
    rnn = open_app("app_pages/rnn.py", steps="20", pins="0.5:2")
    assert rnn.session_state["rnn.pins"] == [(0.5, 2.0)] and not rnn.warning  # the page holds (η, c)
    assert rnn.query_params["pins"] in ("0.5:2", ["0.5:2"])


# ----------------------------------------------------------------------------- about


def test_about_runs_the_claims_and_shows_the_table():
    at = open_app("app_pages/about.py")
    assert any("Device in use" in m.value for m in at.markdown)
    at.selectbox(key="about.family").set_value("tour").run()
    click(at, "about.run")
    outcomes = at.session_state["about.outcomes"]
    assert len(outcomes) >= 2 and all(o.claim.family == "tour" for o in outcomes)
    table = at.dataframe[-1].value
    assert set(table[""]) <= {"✓", "✗", claims.NOT_REPRODUCED} and len(table) == len(outcomes)


# ----------------------------------------------------------------------------- every view true at a glance


class _Capture:
    """A stand-in container: keeps the spec ``charts.show`` would hand to ``st.vega_lite_chart``."""

    def vega_lite_chart(self, spec, **options):
        self.spec = spec


def test_show_keeps_the_data_sets_altair_made_for_inline_layers():
    """The diffusion history's green line (the region's left end) is an ``alt.InlineData`` layer: Altair puts
    its values in the spec's ``datasets``; ``charts.show`` must add the page's frames, not replace them."""
    import pandas as pd

    from app_pages import charts, specs

    box = _Capture()
    series = pd.DataFrame({"step": [0, 1], "run": ["worst δλ"] * 2, "z": [-0.5, -1.0]})
    charts.show(specs.history_spec(-0.7), {"series": series}, box)
    assert sources_referenced(box.spec) <= set(box.spec["datasets"]), sorted(box.spec["datasets"])
    inline = [v for k, v in box.spec["datasets"].items() if k != "series"]
    assert inline == [[{"z": -0.7}]]


def test_diffusion_never_compares_the_sampler_with_itself():
    at = open_app("app_pages/diffusion.py", family="plms", m="4", samples="64")  # compare: auto
    assert list(at.session_state["_result.diffusion"]["runs"]) == ["now: plms4", "compare: hb3.8"]
    same = open_app("app_pages/diffusion.py", family="plms", m="4", samples="64", compare="plms4")
    assert list(same.session_state["_result.diffusion"]["runs"]) == ["now: plms4"]
    assert any("this sampler itself (plms4)" in c.value for c in same.caption)


def test_rnn_thrown_off_the_cliff_only_when_a_step_uses_an_exploded_gradient():
    """η = 5 leaves the plotted box with ‖∇E‖ = 0.83 < c = 1 (both runs alike): a long step, not the cliff."""
    at = open_app("app_pages/rnn.py", eta="5", c="1")
    status = list(at.dataframe[0].value["status"])
    assert all(s.startswith("left the plotted box at step 13 with no exploded gradient") for s in status), status
    assert not any("thrown off the cliff" in e.value for e in at.error)
    at = open_app("app_pages/rnn.py")  # the defaults: both meet the cliff; clipping keeps the step short
    status = list(at.dataframe[0].value["status"])
    assert status[0].startswith("met the cliff at step") and status[1].startswith("thrown off the cliff"), status


def test_playground_reports_a_geometric_climb_below_the_cut_off():
    """GD at eta = 0.15 > 2/L = 0.133 (L = 15): 40 steps end below the 1e12 cut-off, yet the loss grows by
    (1 - 0.15 * 15)^2 = 1.5625 per step; the page warns (steplab.divergence, the criterion of the notebooks'
    divergence_message) instead of saying 'finished'."""
    at = open_app(lam2="15", steps="40")
    assert at.session_state["_result.playground"]["diverged_at"] == -1
    warnings = " ".join(w.value for w in at.warning)
    assert "diverging: the loss grows ×1.56 per step" in warnings and "η = 0.15 > 2/L = 0.133" in warnings
    assert at.dataframe[0].value["status"][0].startswith("diverging")
    assert not at.exception


@pytest.mark.parametrize("page", ["playground", "clipping", "logistic", "diffusion", "rnn"])
def test_caption_says_where_and_how_long_this_view_was_computed(page, monkeypatch):
    """The caption is the page's own compute clock (issue 13): the device this run used and its measured time."""
    monkeypatch.setenv("STEPLAB_DEVICE", "cpu")
    at = open_app(f"app_pages/{page}.py", playback="server")
    clock = at.session_state[f"_clock.{page}"]
    assert clock.blocks >= 1 and clock.seconds > 0
    captions = [c.value for c in at.caption if "computed on" in c.value]
    assert captions == [f"this view computed on **cpu** in {1000 * clock.seconds:.0f} ms"], captions
    click(at, f"{page}.reset")
    click(at, f"{page}.play")
    at.run()  # one playing frame
    frames = [c.value for c in at.caption if c.value.startswith("frame at step")]
    assert len(frames) == 1 and " computed on **cpu** in " in frames[0], frames


def test_clipping_histogram_counts_every_chain_of_the_ensemble(monkeypatch):
    """The histogram is aggregated on the device from all the chains: its counts follow the ensemble size."""
    monkeypatch.setenv("STEPLAB_DEVICE", "cpu")
    for chains in (32, 64):
        at = open_app("app_pages/clipping.py", chains=str(chains), steps="100")
        assert live_of(at, "clipping").notes["histogram counts"] == [chains, chains]


def test_playground_cloud_aggregates_its_noisy_runs(monkeypatch):
    """The density image counts the ensemble's members (all in view near the minimum); the band starts at f(x0)."""
    monkeypatch.setenv("STEPLAB_DEVICE", "cpu")
    for members in (32, 64):
        at = open_app(noise="1", ensemble=str(members))
        cloud = live_of(at, "playground").notes["cloud"]
        assert cloud.x.shape == (members, 2) and cloud.drawn["members"] == members
        assert cloud.drawn["in_box"] == members
        start = at.session_state["_result.playground"]
        assert cloud.band.shape == (start["t"] + 1, 3)
        assert torch.allclose(cloud.band[0], cloud.band[0, :1].expand(3))  # every member starts at x0
        assert cloud.band[-1, 0] < cloud.band[-1, 1] < cloud.band[-1, 2]  # the members spread out
    quiet = open_app(noise="0", ensemble="64")
    assert "cloud" not in live_of(quiet, "playground").notes  # no noise: no cloud to draw


def test_rnn_success_rate_counts_the_random_starts_and_matches_descend(monkeypatch):
    """The success readout is over the page's random starts: it equals descend() from random_wall_starts."""
    monkeypatch.setenv("STEPLAB_DEVICE", "cpu")
    from steplab.rnn.cliff import random_wall_starts
    from steplab.rnn.experiments import SUCCESS_LOSS
    for starts in (16, 48):
        at = open_app("app_pages/rnn.py", starts=str(starts), steps="40")
        rates = live_of(at, "rnn").notes["success"]
        assert rates.shape == (41, 2)
        counts = rates * starts
        assert torch.allclose(counts, counts.round())  # shares of exactly `starts` runs
        x0 = random_wall_starts(starts, seed=0)
        for column, c in ((0, 1.0), (1, None)):
            final = descend(x0, lr=1.0, clip_threshold=c, steps=40).loss[-1]
            assert float(rates[-1, column]) == pytest.approx(float((final < SUCCESS_LOSS).double().mean()))
        assert any(m.label.startswith("success at the end of the run, clipped") for m in at.metric)  # not animated


# ----------------------------------------------------------------------------- links a slider cannot show
@pytest.mark.parametrize("page,params,key,shown", [
    ("diffusion", {"guidance": "0.2"}, "diffusion.guidance", 0.0),  # steps of 0.5
    ("playground", {"rotation": "33"}, "playground.rotation", 35.0),  # steps of 5
    ("diffusion", {"samples": "100"}, "diffusion.samples", 128),  # steps of 64 from 64
    ("playground", {"eta": "0.13"}, "playground.eta", 0.12),  # log slider: 1, 1.2, 1.5, ... x 10^k
])
def test_a_link_value_between_slider_positions_warns_and_shows_the_nearest(page, params, key, shown):
    at = open_app(None if page == "playground" else f"app_pages/{page}.py", **params)
    (name, raw), = params.items()
    assert any(f"`{name}`: {raw} is not a position of the slider" in w.value for w in at.warning), \
        [w.value for w in at.warning]
    assert widget(at, key).value == shown


def test_full_width_digits_and_swapped_eigenvalues_warn():
    at = open_app(eta="０.１")
    assert any("`eta`" in w.value and "digits 0-9 only" in w.value for w in at.warning)
    assert widget(at, "playground.eta").value == 0.15  # the default
    at = open_app(lam1="5", lam2="2")
    assert any("λ₁ = 5 is larger than λ₂ = 2" in w.value for w in at.warning), [w.value for w in at.warning]


def test_more_than_three_pins_warn_and_a_plus_in_a_pin_survives_url_decoding():
    at = open_app("app_pages/rnn.py", steps="20", pins="0.5:2;2:0.5;0.1:10;1:1")
    assert len(at.session_state["rnn.pins"]) == 3
    assert any("4 settings given" in w.value and "pinned the first 3" in w.value for w in at.warning)
    at = open_app("app_pages/diffusion.py", samples="64", family="dpm  ", pins="dpm  hb0.8")  # '+' decodes to ' '
    assert not at.warning, [w.value for w in at.warning]
    assert widget(at, "diffusion.family").value == "dpm++" and at.session_state["diffusion.pins"] == ["dpm++hb0.8"]


def test_the_share_link_of_the_home_page_has_its_slash():
    from app_pages.controls import share_url

    assert share_url({"eta": "0.1"}, "http://127.0.0.1:8501") == "http://127.0.0.1:8501/?eta=0.1"
    assert share_url({"eta": "0.1"}, "http://127.0.0.1:8501/rnn") == "http://127.0.0.1:8501/rnn?eta=0.1"




# ----------------------------------------------------------------------------- diffusion: digits mode


def test_diffusion_digits_mode_draws_the_chosen_digit_and_matches_its_code():
    at = open_app("app_pages/diffusion.py", mode="digits", digit="7", sampler="hb", beta="0.8", steps="6",
                  guidance="2", compare="plms4", playback="server")
    page = at.session_state["_result.diffusion_digits"]
    assert page["method"] == "hb3.8" and page["t"] == 6 and len(at.get("image")) == 2  # this sampler and plms4
    namespace = run_code(at)
    assert namespace["labels"].tolist() == [7] * 16
    np.testing.assert_array_equal(namespace["x_end"].numpy(), page["final"])
    assert page["accuracy"] == namespace["accuracy"](namespace["x_end"], namespace["labels"]) >= 0.5
    frame = page["out_of_range"]
    assert len(frame) == 7 and np.isfinite(frame).all() and ((0 <= frame) & (frame <= 1)).all()
    assert frame[-1] == pytest.approx(page["out_of_range_end"]) and frame[0] > 0.15  # step 0: Gaussian noise
    assert at.query_params["mode"] == "digits" and at.query_params["digit"] == "7"


def test_diffusion_digits_step_advances_the_counter_and_the_readout():
    at = open_app("app_pages/diffusion.py", mode="digits", steps="5", playback="server")
    click(at, "diffusion_digits.reset")
    assert live_of(at, "diffusion_digits").t == 0
    click(at, "diffusion_digits.step")
    click(at, "diffusion_digits.step")
    assert live_of(at, "diffusion_digits").t == 2
    assert next(m.value for m in at.metric if m.label == "step") == "2 / 5"
    frame = at.session_state["_result.diffusion_digits"]["out_of_range"]
    assert len(frame) == 3 and np.isfinite(frame).all()
    widget(at, "diffusion_digits.sampler").set_value("ddim").run()  # a change mid-run keeps the images so far
    click(at, "diffusion_digits.step")
    live = live_of(at, "diffusion_digits")
    assert live.t == 3 and live.plan[0] == "ddim"


@pytest.mark.parametrize("params, warned", [
    ({"mode": "digits", "digit": "12", "guidance": "nan", "sampler": "euler"}, ("`digit`", "`guidance`", "`sampler`")),
    ({"mode": "pixels"}, ("`mode`",)),
])
def test_diffusion_digits_mode_warns_on_bad_links(params, warned):
    at = open_app("app_pages/diffusion.py", playback="server", **params)  # the images: the server player's
    warnings = " ".join(w.value for w in at.warning)
    assert all(name in warnings for name in warned), warnings
    if params["mode"] == "digits":
        assert widget(at, "diffusion_digits.digit").value == 3 and at.get("image")  # defaults, still drawn
    else:
        assert "_result.diffusion" in at.session_state  # the ring mode instead


@pytest.mark.parametrize("params", [{"sampler": "ghvb", "beta": "0.1", "steps": "2", "guidance": "15"},
                                    {"sampler": "dpm++hb", "beta": "0.1", "steps": "50", "guidance": "0"}])
def test_diffusion_digits_mode_at_the_slider_ends_reports_finite_numbers(params):
    at = open_app("app_pages/diffusion.py", mode="digits", playback="server", **params)
    page = at.session_state["_result.diffusion_digits"]
    assert page["t"] == int(params["steps"]) and 0 <= page["accuracy"] <= 1 and 0 <= page["out_of_range_end"] <= 1
    assert np.isfinite(page["out_of_range"]).all() and len(at.get("image")) == 2


def test_diffusion_draws_every_sample_or_a_density_of_all_of_them(monkeypatch):
    """Up to ensemble.POINTS_MAX samples are drawn as points; above it a density image counts all of them."""
    monkeypatch.setenv("STEPLAB_DEVICE", "cpu")
    from app_pages import ensemble
    at = open_app("app_pages/diffusion.py", samples="128", guidance="5")  # in the browser (its density per step:
    assert live_of(at, "diffusion").drawn == {"samples": 128, "in_view": 128}  # tests/test_playback_diffusion.py)
    monkeypatch.setattr(ensemble, "POINTS_MAX", 100)
    for samples in (128, 192):
        at = open_app("app_pages/diffusion.py", samples=str(samples), guidance="5", playback="server")
        assert live_of(at, "diffusion").drawn == {"samples": samples, "in_view": samples}  # w = 5: all stay
        density = [frames["cells"] for title, frames in charts_drawn(at) if f"{samples:,} samples now (" in title]
        assert len(density) == 1 and density[0]["count"].sum() == samples and len(density[0]) <= 48 * 48


# ----------------------------------------------------------------------------- every view true at a glance (laptop)


def chart_specs(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("vega_lite_chart")]


def title_text(spec: dict) -> str:
    title = spec.get("title", "")
    return " ".join(title) if isinstance(title, list) else str(title)


def layers(spec: dict) -> list[dict]:
    return [spec] + [layer for child in spec.get("layer", []) for layer in layers(child)]


def test_chart_titles_wrap_instead_of_being_cut():
    import pandas as pd

    from app_pages import charts

    title = "normalized step r_t (log; r > 1 leaves the loss's convergence radius)"
    box = _Capture()
    charts.series(pd.DataFrame({"step": [0, 1], "run": ["a", "a"], "r": [1.0, 2.0]}), "r", title, ["a"],
                  container=box)
    assert isinstance(box.spec["title"], list) and " ".join(box.spec["title"]) == title
    assert max(map(len, box.spec["title"])) <= charts.TITLE_CHARS


def domain(scale: dict, width: float, height: float) -> tuple[float, float]:
    """A scale's domain with its ``domainMin``/``domainMax`` expressions evaluated at a plot size."""
    def value(bound):
        if isinstance(bound, dict):
            return eval(bound["expr"], {"max": max, "width": width, "height": height})  # noqa: S307 - our spec
        return bound
    if "domain" in scale:
        return tuple(scale["domain"])
    return value(scale["domainMin"]), value(scale["domainMax"])


@pytest.mark.parametrize("builder,args,box", [
    ("contour_spec", ((-2.5, 2.5, -2.5, 2.5),), (-2.5, 2.5, -2.5, 2.5)),
    ("contour_spec", ((-2.0, 2.0, -1.0, 3.0),), (-2.0, 2.0, -1.0, 3.0)),
    ("samples_spec", (), (-2.2, 2.2, -2.2, 2.2)),
    ("boundary_spec", (2.5,), (-2.5, 2.5, -2.5, 2.5)),
])
def test_contours_the_ring_and_the_boundaries_keep_their_aspect_ratio(builder, args, box):
    from app_pages import specs

    spec = getattr(specs, builder)(*args)
    encoding = next(layer["encoding"] for layer in layers(spec) if "scale" in layer.get("encoding", {}).get("x", {}))
    for width, height in ((200, 400), (600, 380), (380, 380)):  # a laptop's half column, a wide screen, a square
        (x0, x1), (y0, y1) = (domain(encoding[a]["scale"], width, height) for a in ("x", "y"))
        assert (x1 - x0) / width == pytest.approx((y1 - y0) / height)  # one unit as long on both axes
        assert x0 <= box[0] and x1 >= box[1] and y0 <= box[2] and y1 >= box[3]  # the whole box stays in view


def test_logistic_page_has_one_run_legend_and_a_taller_loss_panel():
    at = open_app("app_pages/logistic.py")  # playback in the browser: one chart, its one legend of the runs
    (player,) = [s for s in chart_specs(at) if s.get("$schema", "").startswith("https://vega.github.io/schema/vega/")]
    panels = [m for m in player["marks"] if m.get("type") == "group"]
    assert [legend["fill"] for legend in player["legends"]] == ["runs"]
    assert not [legend for m in panels for legend in m.get("legends", [])]
    assert len(chart_specs(at)) == 1  # no other chart (a long sweep adds the sweep view, without a run legend)
    heights = {m["name"]: m["encode"]["update"]["height"]["signal"] for m in panels}
    value = {s["name"]: s.get("value") for s in player["signals"]}
    assert all(value[heights["loss"]] >= value[h] for h in heights.values())
    at = open_app("app_pages/logistic.py", playback="server")
    specs_ = chart_specs(at)
    with_legend = [title_text(s) for s in specs_ for layer in layers(s)
                   if layer.get("encoding", {}).get("color", {}).get("field") == "run"
                   and layer["encoding"]["color"].get("legend", {}) is not None]
    assert len(set(with_legend)) == 1, with_legend
    loss = next(s for s in specs_ if title_text(s).startswith("loss f(θ_t)"))
    assert loss["height"] >= 200


def test_stability_map_marks_the_pinned_runs_and_keeps_damping_inside_the_stable_area():
    at = open_app(pins="heavy_ball:0.05:0.9:none;gd:0.3:0:none")
    data = next(frames for title, frames in charts_drawn(at) if "here" in frames)
    assert [run.split(":")[0] for run in data["here"]["run"]] == ["now", "pin 1", "pin 2"]
    assert list(data["here"]["eta"]) == [0.15, 0.05, 0.3]
    damping, lam_max = data["damping"], 10.0  # the default quadratic's λ₂
    assert len(damping) and (damping["eta"] < 2 * (1 + damping["beta"]) / lam_max).all()
    assert any("+: the current setting and the pinned ones" in c.value for c in at.caption)


def test_clipping_live_point_says_when_the_run_is_not_yet_stationary():
    """The server player's chart (the browser's: tests/test_playback_clipping.py)."""
    slow = open_app("app_pages/clipping.py", eta="0.001", steps="500", chains="64", playback="server")  # 1/(ηh′) ~ 10³
    now = next(frames["now"] for _, frames in charts_drawn(slow) if "now" in frames)
    assert list(now["note"]) == ["not yet stationary"]
    settled = open_app("app_pages/clipping.py", chains="64", playback="server")  # η = 0.03, T = 500: past 6 relaxations
    now = next(frames["now"] for _, frames in charts_drawn(settled) if "now" in frames)
    assert list(now["note"]) == [""]
    spec = next(s for s in chart_specs(settled) if title_text(s).startswith("measured bias vs theory"))
    ticks = next(layer["encoding"]["y"]["axis"]["values"] for layer in layers(spec)
                 if "axis" in layer.get("encoding", {}).get("y", {}))
    assert len([t for t in ticks if 0 <= t <= 1]) >= 6  # a readable symlog axis (Vega's own: 0, 0.4, 0.8)


def test_logistic_sweep_size_follows_the_ensemble_and_long_sweeps_draw_all_of_it(monkeypatch):
    """Every step size of the sweep is run; a sweep longer than ensemble.LINES_MAX draws that many lines and one
    point per step size in the sweep charts (lowered to 3 here: the CPU range stops at 8)."""
    monkeypatch.setenv("STEPLAB_DEVICE", "cpu")
    from app_pages import ensemble
    at = open_app("app_pages/logistic.py", runs="8", steps="20")
    assert len(at.session_state["_result.logistic"]["loss"]) == 8
    assert live_of(at, "logistic").notes["drawn"] == list(range(9))  # 8 step sizes + the Perceptron
    monkeypatch.setattr(ensemble, "LINES_MAX", 3)
    for runs, drawn in ((6, [0, 2, 5, 6]), (7, [0, 3, 6, 7])):
        at = open_app("app_pages/logistic.py", runs=str(runs), steps="20")
        assert len(at.session_state["_result.logistic"]["loss"]) == runs
        assert live_of(at, "logistic").notes["drawn"] == drawn
        frames = dict(charts_drawn(at))
        sweep = [f for title, f in frames.items()
                 if title.startswith("training accuracy at step 20 (the end of the run) across")]
        assert len(sweep) == 1 and len(sweep[0]["series"]) == runs
        assert frames["decision boundaries θ_tᵀa = 0 (●: y = +1, ■: y = −1)"]["lines"]["r"].nunique() == len(drawn)


@pytest.mark.parametrize("page", ["playground", "clipping", "logistic", "diffusion", "rnn"])
def test_every_page_has_an_ensemble_control_sized_for_the_device(page, monkeypatch):
    """One table (app_pages.ensemble.SIZES) sets each page's ensemble slider: on the CPU, its CPU range and
    default; the value is mirrored in the URL like every control and an out-of-range link value warns."""
    monkeypatch.setenv("STEPLAB_DEVICE", "cpu")
    from app_pages.ensemble import SIZES
    entry = SIZES[page]
    at = open_app(f"app_pages/{page}.py")
    slider = widget(at, f"{page}.{entry.name}")
    assert (slider.min, slider.max, slider.value) == (entry.cpu.low, entry.cpu.high, entry.cpu.default)
    assert at.query_params[entry.name] == str(entry.cpu.default)
    scaled = 10 * (entry.cpu.default or entry.cpu.step)
    for size in (entry.cpu.default, scaled, entry.cuda.default, entry.cuda.high):  # GPU bench sizes
        assert entry.cuda.low <= size <= entry.cuda.high and (size - entry.cuda.low) % entry.cuda.step == 0, size
    big = open_app(f"app_pages/{page}.py", **{entry.name: str(entry.cuda.high)})
    assert any(f"`{entry.name}`" in w.value for w in big.warning)
    assert widget(big, f"{page}.{entry.name}").value == entry.cpu.default


def test_pages_create_every_tensor_on_an_explicit_device(monkeypatch):
    """Issue 13's review rule for the dashboard: no torch factory call in app_pages/ without ``device=`` (the compute
    device, or ui.THEORY for closed forms drawn as is), so nothing lands on the CPU by accident on a GPU."""
    import functools
    import traceback

    missing = set()

    def audited(name):
        original = getattr(torch, name)

        @functools.wraps(original)
        def factory(*args, **kwargs):
            caller = traceback.extract_stack(limit=2)[0]
            if kwargs.get("device") is None and "/app_pages/" in caller.filename:
                missing.add(f"{Path(caller.filename).name}:{caller.lineno} torch.{name}: {caller.line}")
            return original(*args, **kwargs)

        return factory

    for name in ("tensor", "as_tensor", "zeros", "ones", "full", "empty", "arange", "linspace", "logspace", "eye",
                 "rand", "randn", "randint"):
        monkeypatch.setattr(torch, name, audited(name))
    pages = {"playground": {"noise": "1"}, "clipping": {}, "logistic": {"runs": "8"}, "diffusion": {},
             "rnn": {"starts": "16"}}
    for page, params in pages.items():
        open_app(f"app_pages/{page}.py", **params)  # playback in the browser: the whole run at once
        at = open_app(f"app_pages/{page}.py", **params, playback="server")
        click(at, f"{page}.reset")
        click(at, f"{page}.step")
    assert not missing, sorted(missing)
