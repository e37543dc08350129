"""The RNN gradient clipping page played in the browser (app_pages.rnn_vega, app_pages.browser_playback): its one
Vega chart reads only what it defines and draws finite data; the "thrown off the cliff" message appears in the
chart only for a run whose step used an exploded gradient, from that step on; a setting changed mid-run
continues from the reported step; a click on the surface (sent with the transport report) moves the start;
and in headless Chromium the chart plays with no WebSocket message while playing."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest
import torch
from browser_support import runs_finished, wait_for_runs
from playback_support import open_page, panel, player_spec_of
from vega_check import check_player_spec

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

from app_pages import browser_playback as bpb  # noqa: E402
from steplab.rnn.cliff import EXPLODING_GRAD_NORM, descend  # noqa: E402

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PAGE = "rnn"


def open_rnn(**params) -> AppTest:
    return open_page("rnn", **params)


def data_of(group: dict, name: str) -> list:
    return next(d for d in group["data"] if d["name"] == name)["values"]


def report(pos, playing, spec_id, frames=80, **more) -> dict:
    return {"pos": pos, "playing": playing, "fps": 24, "frames": frames, "id": spec_id, **more}


def test_the_rnn_chart_reads_only_what_it_defines_draws_finite_data_and_breaking_it_is_caught():
    at = open_rnn(pins="0.5:2")
    spec = player_spec_of(at)
    check_player_spec(spec)
    titles = [" ".join(np.atleast_1d(m["title"]["text"])) for m in spec["marks"] if m.get("type") == "group"]
    assert [t.split(" (")[0].split(",")[0] for t in titles] == [
        "loss surface E₅₀(w", "gradient norm per step ‖∇E‖: raw vs clipped", "loss E₅₀ per step"]
    surface = panel(spec, "surface")
    cells = data_of(surface, "cells")
    assert len(cells) == 90 and all(len(row["z"]) == 90 and np.isfinite(row["z"]).all() for row in cells)
    paths = data_of(surface, "paths")
    assert [p["r"] for p in paths] == [0, 1, 2] and all(p["s"] == list(range(81)) for p in paths)
    assert all(None not in p["w"] + p["b"] + p["e"] for p in paths)  # every iterate drawn, finite
    live = at.session_state["_player.rnn"].live
    np.testing.assert_allclose(paths[1]["w"], live.history.iterates[:, 1, 0].numpy(), rtol=1e-4)
    for name in ("grads", "loss"):
        lines = data_of(panel(spec, name), f"{name}_lines")
        assert lines and all(np.isfinite(line["v"]).all() and len(line["s"]) == len(line["v"]) for line in lines)
    shown = next(d for d in surface["data"] if d["name"] == "shown")["transform"][0]["expr"]
    assert shown.startswith("datum.s <= step")  # the paths follow the step
    broken = json.loads(json.dumps(spec))
    panel(broken, "surface")["marks"][4]["encode"]["update"]["fill"]["scale"] = "colour"  # a misspelt scale
    with pytest.raises(AssertionError, match="missing scales"):
        check_player_spec(broken)
    broken = json.loads(json.dumps(spec))
    next(d for d in panel(broken, "surface")["data"] if d["name"] == "events_shown")["source"] = "event"
    with pytest.raises(AssertionError, match="reads missing"):
        check_player_spec(broken)


def test_the_cliff_message_appears_from_the_step_that_used_an_exploded_gradient_and_only_then():
    """At the defaults both runs meet the cliff at one step; only the unclipped one takes that step with the
    exploded gradient: its message (red) is filtered to appear from that step, the clipped one's says clipped."""
    at = open_rnn()
    history = at.session_state["_player.rnn"].live.history
    surface = panel(player_spec_of(at), "surface")
    events = data_of(surface, "events")
    k = int(np.argmax(history.clipped_grad_norm[:, 1].numpy() > EXPLODING_GRAD_NORM))
    assert history.clipped_grad_norm[k, 1] > EXPLODING_GRAD_NORM >= history.clipped_grad_norm[:k, 1].max()
    assert [(e["r"], e["s"], e["thrown"]) for e in events] == [(0, k, False), (1, k, True)]
    assert events[1]["text"] == f"2 · thrown off the cliff at step {k}"
    assert "thrown" not in events[0]["text"] and history.clipped_grad_norm[:, 0].max() <= 1.0 + 1e-12
    shown = next(d for d in surface["data"] if d["name"] == "events_shown")
    assert shown["source"] == "events" and shown["transform"][0]["expr"] == "datum.s <= step"
    assert next(m for m in surface["marks"] if m.get("name") == "cliff")["from"]["data"] == "events_shown"
    assert any("over the whole run" in e.value and "thrown off the cliff" in e.value for e in at.error)
    calm = open_rnn(eta="5", c="1")  # leaves the box with ‖∇E‖ < 2 on every step: no cliff, no message
    assert data_of(panel(player_spec_of(calm), "surface"), "events") == []
    assert not any("thrown off the cliff" in e.value for e in calm.error)


def test_the_rnn_page_continues_mid_run_from_the_reported_step(monkeypatch):
    """A report says the chart plays from step 0 at t = 100 s; η changed at t = 101 s continues from step 24
    (24 frames/s): the steps before are the run that was shown, the next one is η's new step from x_24."""
    clock = [100.0]
    at = open_rnn(steps="200", w0="2", b0="-1")  # no cliff: a smooth descent toward the valley
    played = at.session_state["_player.rnn"]
    shown = played.live.history.iterates.clone()
    monkeypatch.setattr(bpb, "reported", lambda page: report(0, True, played.spec_id, frames=200))
    monkeypatch.setattr(bpb.time, "monotonic", lambda: clock[0])
    at.run()
    clock[0] = 101.0
    next(w for w in at.select_slider if w.key == "rnn.eta").set_value(0.5).run()
    assert not at.exception, [e.value for e in at.exception]
    played = at.session_state["_player.rnn"]
    assert played.changes == [24]
    iterates = played.live.history.iterates
    assert torch.equal(iterates[:25], shown[:25])
    for r, c in ((0, 1.0), (1, None)):
        step = descend(shown[24, r][None], lr=0.5, clip_threshold=c, steps=1)
        torch.testing.assert_close(iterates[25, r], step.final[0], rtol=1e-12, atol=0)
    spec = player_spec_of(at)
    anim = next(s for s in spec["signals"] if s["name"] == "anim")["value"]
    assert anim["pos"] == 24 and anim["playing"]
    assert data_of(panel(spec, "loss"), "loss_changes") == [{"s": 24}]
    assert data_of(panel(spec, "grads"), "grads_changes") == [{"s": 24}]


def test_a_click_on_the_surface_sent_with_the_report_moves_the_start_once(monkeypatch):
    at = open_rnn()
    played = at.session_state["_player.rnn"]
    clicked = report(80, False, played.spec_id, start=[6.02, -3.51])
    monkeypatch.setattr(bpb, "reported", lambda page: clicked)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    w0, b0 = (next(w for w in at.slider if w.key == f"rnn.{name}").value for name in ("w0", "b0"))
    assert (w0, b0) == (pytest.approx(6.0), pytest.approx(-3.5))  # the slider positions nearest the click
    live = at.session_state["_player.rnn"].live
    assert live.history.iterates[0].tolist() == [[pytest.approx(6.0), pytest.approx(-3.5)]] * 2  # a fresh run
    next(w for w in at.slider if w.key == "rnn.w0").set_value(3.0).run()  # the same (old) report again
    assert next(w for w in at.slider if w.key == "rnn.w0").value == 3.0  # is not applied twice


def test_a_stale_click_from_the_server_player_neither_returns_nor_hides_a_new_one(monkeypatch):
    """A click kept by the server player's surface chart (the playback setting was switched since) is applied
    once; a later click sent with the browser chart's report moves the start, and the old one does not return."""
    at = open_rnn()
    at.session_state["rnn.surface"] = {"selection": {"start": [{"x": 3.0, "y": -1.0}]}}
    at.run()

    def start() -> tuple:
        return tuple(next(w for w in at.slider if w.key == f"rnn.{name}").value for name in ("w0", "b0"))

    assert start() == (pytest.approx(3.0), pytest.approx(-1.0))
    played = at.session_state["_player.rnn"]
    monkeypatch.setattr(bpb, "reported", lambda page: report(80, False, played.spec_id, start=[7.0, -5.0]))
    at.run()
    assert start() == (pytest.approx(7.0), pytest.approx(-5.0))
    at.run()
    assert start() == (pytest.approx(7.0), pytest.approx(-5.0))


# ----------------------------------------------------------------------------- in a real browser


@pytest.mark.browser
def test_the_rnn_chart_plays_without_a_server_message_and_a_click_moves_the_start(tmp_path):
    from browser_support import CHROMIUM, CHROMIUM_ARGS, playwright_or_skip, streamlit_server

    sync_api = playwright_or_skip()
    with streamlit_server(tmp_path / "streamlit.log") as base, sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            check_rnn(browser.new_page(viewport={"width": 1000, "height": 700}), base)
        finally:
            browser.close()


def quiet(page, frames: list, for_ms: int = 600, timeout_s: float = 10) -> None:
    """Wait until no WebSocket message has come or gone for ``for_ms`` (a rerun's last messages are in)."""
    deadline, seen = time.time() + timeout_s, -1
    while time.time() < deadline and len(frames) != seen:
        seen = len(frames)
        page.wait_for_timeout(for_ms)


def check_rnn(page, base: str) -> None:
    """Shown whole; play (no cliff message before the cliff step, both after it; no WebSocket message while
    playing); pause; a click on a surface cell moves the start slider to that cell."""
    frames = []

    def listen(ws):
        ws.on("framesent", lambda payload: frames.append(("sent", payload)))
        ws.on("framereceived", lambda payload: frames.append(("received", payload)))

    page.on("websocket", listen)
    page.goto(f"{base}/rnn?w0=5&b0=-2.3&steps=200", timeout=90_000)
    page.wait_for_selector(".vega-embed g.counter text", timeout=90_000)
    wait_for_runs(page, frames, 1)  # the first run is over (its last, static sections too)

    def step() -> int:
        return int(re.search(r"step (\d+) / 200", page.text_content(".vega-embed g.counter text")).group(1))

    def cliff_messages() -> int:
        return page.locator(".vega-embed g.cliff text").count()

    assert step() == 200 and cliff_messages() == 2  # shown whole: both runs met the cliff
    runs = runs_finished(frames)
    page.click(".vega-embed g.play path")  # plays from step 0
    page.wait_for_timeout(100)
    assert step() < 24 and cliff_messages() == 0  # before the cliff step (24): no message yet
    wait_for_runs(page, frames, runs + 1)  # the play report's rerun is over
    start, messages = step(), len(frames)
    page.wait_for_timeout(1500)
    assert step() - start >= 20, (start, step())
    assert len(frames) == messages, "a playing chart sent or received WebSocket messages"
    assert cliff_messages() == 2  # past the cliff step: both messages shown
    page.click(".vega-embed g.play path")  # pause
    page.locator(".vega-embed g.surface_cells").scroll_into_view_if_needed()  # a click off screen does nothing
    page.wait_for_timeout(300)
    cells = page.locator(".vega-embed g.surface_cells").bounding_box()
    page.mouse.click(cells["x"] + cells["width"] * 0.2, cells["y"] + cells["height"] * 0.2)  # w ≈ 2.4, b ≈ -0.4
    deadline = time.time() + 20
    while time.time() < deadline and "w0=5&" in page.url:  # the URL mirrors every control
        page.wait_for_timeout(250)
    query = parse_qs(urlparse(page.url).query)
    assert float(query["w0"][0]) == pytest.approx(2.4, abs=0.1), page.url
    assert float(query["b0"][0]) == pytest.approx(-0.4, abs=0.1), page.url
