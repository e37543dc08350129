"""The large-step logistic regression page played in the browser (app_pages.logistic_vega): its one Vega chart
reads only what it defines and draws finite data, each run's boundary is perpendicular to its θ_t at every shown
step, a setting changed mid-run continues from the step the chart reported (the change marked), and in Chromium
the chart plays with no WebSocket message."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from browser_support import CHROMIUM, CHROMIUM_ARGS, playwright_or_skip, streamlit_server

pytest.importorskip("streamlit")
from playback_support import open_page as open_any  # noqa: E402
from playback_support import panel, player_spec_of  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402
from vega_check import check_player_spec  # noqa: E402

from app_pages import browser_playback as bpb  # noqa: E402
from app_pages.playground_vega import equal_aspect_domains  # noqa: E402
from steplab.logistic import algorithms, data  # noqa: E402

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PAGE = "app_pages/logistic.py"
SERIES = ("loss", "margin", "accuracy", "grads", "steps")  # the series panels' names


def open_page(**params) -> AppTest:
    return open_any("logistic", **params)


def values(group: dict, name: str) -> list:
    return next(d["values"] for d in group["data"] if d["name"] == name)


def test_the_logistic_chart_reads_only_what_it_defines_and_its_panels_hold_the_run():
    at = open_page()
    spec = player_spec_of(at)
    check_player_spec(spec)
    live = at.session_state["_player.logistic"].live
    assert live.t == 100 and next(s for s in spec["signals"] if s["name"] == "n")["value"] == 100  # the whole run
    runs = live.history.iterates.shape[1]
    for name in SERIES:  # every run drawn, with finite values, up to the last step (r_t: up to T - 1)
        lines = values(panel(spec, name), f"{name}_lines")
        assert sorted(line["r"] for line in lines) == list(range(runs)), name
        assert all(np.isfinite(line["v"]).all() for line in lines), name
        # the Batch Perceptron stops once separated: its r_t = 0 has no place on the log axis
        assert all(line["s"][-1] >= 99 for line in lines if name != "steps" or line["r"] < runs - 1), name
    boundaries = panel(spec, "boundaries")
    theta = live.history.iterates.numpy()
    for row in values(boundaries, "lines"):  # the drawn line is θ_tᵀa = 0 at each step it has
        ends = np.stack([row["x"], row["y"]], axis=-1)
        normal = theta[row["s"], row["r"]] / np.linalg.norm(theta[row["s"], row["r"]], axis=-1, keepdims=True)
        assert np.abs((ends * normal).sum(-1)).max() < 1e-3 * np.abs(ends).max()
        assert row["s"][0] == 1 and row["s"][-1] == 100  # θ_0 = 0 has no boundary
    head = next(d for d in boundaries["data"] if d["name"] == "lines_head")
    assert head["source"] == "lines" and "datum.s === step" in head["transform"][0]["expr"]
    assert len(values(boundaries, "points")) == 4  # the Wu toy's points, drawn once
    box = round(float(np.abs(data.wu_toy().features.numpy()).max() * 1.25), 3)
    domains = [scale["domain"]["signal"] for scale in boundaries["scales"][:2]]  # one unit as long on both axes
    assert domains == list(equal_aspect_domains((-box, box, -box, box), "w2", "h0"))
    table = at.dataframe[0].value
    for row in values(boundaries, "readout"):  # the corner's readout at the last step is the table's (step 100)
        assert row["s"] == list(range(101))
        assert row["a"][-1] == pytest.approx(float(table["accuracy"][row["r"]]), abs=1e-3)
        assert row["f"][-1] == pytest.approx(float(table["loss"][row["r"]]), rel=1e-2)
    diamonds = panel(spec, "accuracy")["marks"][-1]
    assert diamonds["from"]["data"] == "accuracy_markers"  # static: not filtered by the step
    broken = json.loads(json.dumps(spec))
    next(d for d in panel(broken, "boundaries")["data"] if d["name"] == "lines_head")["source"] = "boundary"
    with pytest.raises(AssertionError, match="reads missing"):
        check_player_spec(broken)
    broken = json.loads(json.dumps(spec))
    panel(broken, "accuracy")["marks"][-1]["encode"]["update"]["fill"]["scale"] = "colour"  # the diamonds'
    with pytest.raises(AssertionError, match="missing scales"):
        check_player_spec(broken)


def test_the_logistic_page_continues_mid_run_from_the_reported_step(monkeypatch):
    """A report says the chart plays from step 0 at 24 frames/s; a γ change 1 s later continues from θ_24 (the
    prefix is the run that was shown, step 25 is the new step sizes' update from θ_24), and the new chart starts
    there, playing, with the change marked on every series panel."""
    clock = [100.0]
    at = open_page()
    played = at.session_state["_player.logistic"]
    before = played.live.history.iterates.clone()
    monkeypatch.setattr(bpb, "reported", lambda page: {"pos": 0, "playing": True, "fps": 24, "frames": 100,
                                                       "id": played.spec_id})
    monkeypatch.setattr(bpb.time, "monotonic", lambda: clock[0])
    at.run()  # the report arrives at t = 100 s
    clock[0] = 101.0
    next(w for w in at.select_slider if w.key == "logistic.gamma_max").set_value(10.0).run()
    assert not at.exception, [e.value for e in at.exception]
    played = at.session_state["_player.logistic"]
    assert played.changes == [24] and played.live.t == 100
    after = played.live.history.iterates
    assert torch.equal(after[:25], before[:25])
    gammas = torch.tensor([float(f"{g:.4g}") for g in np.geomspace(0.1, 10.0, 4)], dtype=torch.float64)  # the sweep
    state = algorithms.GDState(before[24, :4].clone(), 24, torch.full((4,), -1))
    step = algorithms.run_on(data.wu_toy(), gammas, 1, "lr_gd", state=state)
    torch.testing.assert_close(after[25, :4], step.weights[-1], rtol=1e-12, atol=0)  # from θ_24, new γ
    assert not torch.equal(after[25, 1:4], before[25, 1:4])
    spec = player_spec_of(at)
    anim = next(s for s in spec["signals"] if s["name"] == "anim")["value"]
    assert anim["pos"] == 24 and anim["playing"]
    for name in SERIES:
        assert values(panel(spec, name), f"{name}_changes") == [{"s": 24}], name


def test_the_playback_control_switches_between_the_players_in_one_session():
    at = open_page()
    for mode, kind in (("server", dict), ("browser", bpb.Played), ("server", dict)):
        next(w for w in at.selectbox if w.key == "logistic.playback").set_value(mode).run()
        assert not at.exception, (mode, [e.value for e in at.exception])
        assert isinstance(at.session_state["_player.logistic"], kind), mode
        assert at.session_state["_result.logistic"]["t"] == 100  # either player shows a new run whole


# ----------------------------------------------------------------------------- in a real browser


@pytest.mark.browser
def test_the_logistic_chart_plays_in_chromium_without_a_server_message(tmp_path):
    playwright_or_skip()
    from playwright.sync_api import sync_playwright

    with streamlit_server(tmp_path / "streamlit.log") as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 700})
            frames = []

            def listen(ws):
                ws.on("framesent", lambda payload: frames.append(("sent", payload)))
                ws.on("framereceived", lambda payload: frames.append(("received", payload)))

            page.on("websocket", listen)
            page.goto(f"{server}/logistic?steps=400", timeout=90_000)
            page.wait_for_selector(".vega-embed g.counter text", timeout=90_000)
            page.wait_for_timeout(1500)  # the first run's messages are over

            def step() -> int:
                return int(re.search(r"step (\d+) / 400", page.text_content(".vega-embed g.counter text")).group(1))

            def boundaries() -> list:
                lines = page.locator(".vega-embed g.boundary line")
                return [lines.nth(i).get_attribute("x2") for i in range(lines.count())]

            assert step() == 400  # a new run is shown whole
            page.click(".vega-embed g.play path")  # plays from step 0
            quiet_since, seen = time.time(), len(frames)
            while time.time() - quiet_since < 0.6:  # the play report's rerun is over (on a loaded machine: later)
                page.wait_for_timeout(100)
                if len(frames) != seen:
                    quiet_since, seen = time.time(), len(frames)
            start, drawn, messages = step(), boundaries(), len(frames)
            page.wait_for_timeout(1500)
            assert step() - start >= 20 * 2, (start, step())  # 24 frames/s, 2 steps a frame (400 steps)
            assert boundaries() != drawn and len(drawn) == 5  # the runs' boundary lines moved
            assert frames[messages:] == [], "a playing chart sent or received WebSocket messages"
        finally:
            browser.close()
