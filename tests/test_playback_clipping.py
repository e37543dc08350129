"""The clipping page plays in the browser (app_pages.clipping_vega): one Vega chart whose histogram, series and
bias-vs-theory panels follow one step; the histograms per frame count every chain on the run's one x axis; the
live point's bias and "not yet stationary" flag are those of the step shown; a c change mid-run continues from
the reported step (marked on the panels); the sweep button adds its static points without sending the chart
back; and in Chromium the chart plays with no WebSocket message."""

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
from playback_support import open_page, panel, report  # noqa: E402
from playback_support import player_spec_of as player_spec  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402
from vega_check import check_player_spec  # noqa: E402

from app_pages import browser_playback as bpb  # noqa: E402
from app_pages import browser_player as bp  # noqa: E402
from app_pages import clipping_vega as cv  # noqa: E402
from app_pages import ensemble  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
VEGA = "https://vega.github.io/schema/vega/"


def open_clipping(**params) -> AppTest:
    return open_page("clipping", **params)


def values(spec: dict, name: str, data: str) -> list:
    return next(d["values"] for d in panel(spec, name)["data"] if d["name"] == data)


def test_the_chart_is_one_player_that_reads_only_what_it_defines_and_a_break_is_caught():
    at = open_clipping(chains="32", steps="300")
    spec = player_spec(at)
    check_player_spec(spec)
    assert [m["name"] for m in spec["marks"] if m.get("type") == "group"] == ["hist", "rate", "mean", "curve"]
    assert not [b for b in at.button if b.key == "clipping.play"]  # no server transport in this mode
    for name, shown in (("hist", "hist_now"), ("curve", "curve_head")):  # what is drawn is the step's frame
        data = next(d for d in panel(spec, name)["data"] if d["name"] == shown)
        assert data["transform"][0] == {"type": "filter", "expr": "datum.s === step"}
    assert json.loads(json.dumps(spec, allow_nan=False)) == spec  # strict JSON: no NaN reaches the browser
    broken = json.loads(json.dumps(spec))
    panel(broken, "curve")["marks"][2]["encode"]["update"]["fill"]["scale"] = "colour"  # a misspelt scale
    with pytest.raises(AssertionError, match="missing scales"):
        check_player_spec(broken)
    broken = json.loads(json.dumps(spec))
    panel(broken, "hist")["data"][1]["source"] = "rows"
    with pytest.raises(AssertionError, match="reads missing"):
        check_player_spec(broken)


def test_each_frame_counts_every_chain_and_the_last_is_where_the_chains_end():
    """One histogram per shown step (0, k, 2k, ..., T), every chain of every setting counted on one x axis; the
    last one is the chains at step T (counted here again from the page's live iterate), the first all at 0."""
    chains, steps = 48, 600  # 600 steps: frames every 3rd step
    at = open_clipping(chains=str(chains), steps=str(steps))
    spec = player_spec(at)
    rows = values(spec, "hist", "hist_rows")
    shown = bp.shown_steps(steps, bp.frame_stride(steps))
    assert sorted({row["s"] for row in rows}) == shown.tolist() and len(rows) == 2 * len(shown)
    assert all(sum(row["n"]) == chains and len(row["n"]) == cv.BINS for row in rows)
    edges = np.array(next(s["value"] for s in panel(spec, "hist")["signals"] if s["name"] == "edges"))
    zero_bin = int(np.searchsorted(edges, 0.0)) - 1
    assert all(row["n"][zero_bin] == chains for row in rows if row["s"] == 0)  # the chains start at the minimum
    x = at.session_state["_player.clipping"].live.x[:, 0].reshape(2, chains)
    at_end = ensemble.histograms(x, edges[0], edges[-1], bins=cv.BINS).tolist()
    assert [row["n"] for row in rows if row["s"] == steps] == at_end
    y_top = next(s for s in panel(spec, "hist")["scales"] if s["name"] == "y")["domain"][1]
    assert y_top == max(max(row["n"]) for row in rows)  # one y axis for the whole run: it never rescales


def test_the_live_point_is_the_bias_of_the_step_shown_and_says_when_it_is_not_yet_stationary():
    slow = open_clipping(eta="0.001", steps="500", chains="64")  # 1/(η h′) ≈ 1000 steps: never stationary here
    points = values(player_spec(slow), "curve", "curve_bias")
    assert not any(points[0]["ok"]) and points[0]["c"][-1] == 1.0
    settled = open_clipping(chains="64")  # η = 0.03, T = 500: 6 relaxation times 1/(0.03 · 0.9) ≈ 222 < T/2
    spec = player_spec(settled)
    run, unclipped = values(spec, "curve", "curve_bias")[:2]
    steps = np.array(run["s"])
    assert run["ok"] == (steps // 2 >= 6 / (0.03 * 0.9)).astype(int).tolist()  # flips once, where the rule says
    assert unclipped["c"] == [None] * len(steps)  # c = ∞: no point on the curve, only its readout
    result = settled.session_state["_result.clipping"]
    assert run["b"][-1] == pytest.approx(result["bias"], abs=1e-6)  # the last frame: the page's measured bias
    chain_mean = settled.session_state["_player.clipping"].live.history.iterates[:, 0, 0].numpy()
    s = int(steps[len(steps) // 3])
    assert run["b"][len(steps) // 3] == pytest.approx(abs(chain_mean[s // 2:s].mean()), abs=1e-6)  # a middle frame
    curve = panel(spec, "curve")
    ticks = next(a["values"] for a in curve["axes"] if a["orient"] == "left")
    assert len([t for t in ticks if 0 <= t <= 1]) >= 6  # a readable symlog axis (Vega's own: 0, 0.4, 0.8)


def test_a_threshold_changed_mid_run_continues_from_the_reported_step(monkeypatch):
    """A report says the chart plays from step 0; 1 s later c moves: the run is replayed to step 24 and continued
    with the new c once; the chart drawn starts there, playing, with the change marked, the live point moving to
    the new c from that step and the theory line of the histogram switching there."""
    clock = [100.0]
    at = open_clipping(chains="16", steps="200")
    first = at.session_state["_player.clipping"]
    before = first.live.history.iterates[:, :, 0].clone()
    monkeypatch.setattr(bpb, "reported", lambda page: report(0, True, first.spec_id, 200))
    monkeypatch.setattr(bpb.time, "monotonic", lambda: clock[0])
    at.run()  # the report arrives at t = 100 s
    clock[0] = 101.0
    next(w for w in at.select_slider if w.key == "clipping.c").set_value(1.2).run()
    assert not at.exception, [e.value for e in at.exception]
    played = at.session_state["_player.clipping"]
    assert played.changes == [24] and played.live.notes["settings"] == [(0, 1.0, 0.03), (24, 1.2, 0.03)]
    after = played.live.history.iterates[:, :, 0]
    assert torch.equal(after[:25], before[:25]) and not torch.equal(after[26:], before[26:])  # replayed, then c = 1.2
    spec = player_spec(at)
    anim = next(s for s in spec["signals"] if s["name"] == "anim")["value"]
    assert anim["pos"] == 24 and anim["playing"]
    for name in ("rate", "mean"):
        assert values(spec, name, f"{name}_changes") == [{"s": 24}]
    run = values(spec, "curve", "curve_bias")[0]
    assert {c for s, c in zip(run["s"], run["c"]) if s <= 24} == {1.0}
    assert {c for s, c in zip(run["s"], run["c"]) if s > 24} == {1.2}
    rules = [m for m in values(spec, "hist", "hist_marks") if m["what"] == "theory"]
    assert [(m["a"], m["b"]) for m in rules] == [(0, 24), (24, 201)]  # each setting's theory while it ran


def test_the_sweep_button_adds_its_points_without_sending_the_chart_back(monkeypatch):
    at = open_clipping(chains="16", steps="200")
    played = at.session_state["_player.clipping"]
    assert values(player_spec(at), "curve", "curve_sweep") == []
    monkeypatch.setattr(bpb, "reported", lambda page: report(50, False, played.spec_id, 200))  # paused at frame 50
    at.run()
    at.button(key="clipping.sweep").click().run()
    assert not at.exception, [e.value for e in at.exception]
    spec = player_spec(at)
    sweep = values(spec, "curve", "curve_sweep")
    assert len(sweep) >= 6 and all(np.isfinite([p["c"], p["b"]]).all() for p in sweep)
    assert at.session_state["_player.clipping"].spec_id == played.spec_id  # nothing recomputed
    assert next(s for s in spec["signals"] if s["name"] == "anim")["value"]["pos"] == 50  # where it was paused
    assert len(at.dataframe) == 2  # the run's table and the sweep's


def test_a_fresh_run_after_the_server_player_starts_at_its_own_frame():
    """Back from ?playback=server with other steps, the new chart is the new run shown whole (not the old chart's
    remembered start, though both runs are the session's first browser chart, id 0)."""
    at = open_clipping(chains="16", steps="100")  # shown whole: frame 100
    next(w for w in at.selectbox if w.key == "clipping.playback").set_value("server").run()
    next(w for w in at.slider if w.key == "clipping.steps").set_value(300).run()  # 150 frames of 2 steps
    next(w for w in at.selectbox if w.key == "clipping.playback").set_value("browser").run()
    assert not at.exception, [e.value for e in at.exception]
    anim = next(s for s in player_spec(at)["signals"] if s["name"] == "anim")["value"]
    assert anim == {"pos": 300 // bp.frame_stride(300), "t": -1, "playing": False}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    playwright_or_skip()
    with streamlit_server(tmp_path_factory.mktemp("streamlit") / "streamlit.log") as base:
        yield base


@pytest.mark.browser
def test_the_clipping_chart_plays_in_chromium_without_a_server_message(server):
    from playwright.sync_api import sync_playwright

    frames = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 1000})
            page.on("websocket", lambda ws: (ws.on("framesent", lambda _: frames.append(time.time())),
                                             ws.on("framereceived", lambda _: frames.append(time.time()))))
            page.goto(f"{server}/clipping?steps=400&chains=64", timeout=90_000)
            page.wait_for_selector(".vega-embed g.counter text", timeout=90_000)

            def step() -> int:
                return int(re.search(r"step (\d+) / 400", page.text_content(".vega-embed g.counter text")).group(1))

            def quiet(seconds: float = 1.0, timeout_s: float = 30) -> None:
                """Until no WebSocket message came for ``seconds`` (the report's rerun is over)."""
                deadline = time.time() + timeout_s
                while time.time() < deadline and frames and time.time() - frames[-1] < seconds:
                    page.wait_for_timeout(100)

            quiet()
            assert step() == 400  # a new run is shown whole
            page.click(".vega-embed g.play path")  # from step 0
            quiet()
            start, messages = step(), len(frames)
            bars = page.inner_html(".vega-embed g.bars")
            page.wait_for_timeout(1500)
            assert step() - start >= 20, (start, step())  # 24 frames/s: ~36 frames of 2 steps in 1.5 s
            assert page.inner_html(".vega-embed g.bars") != bars  # the histogram moved too
            assert len(frames) == messages, "a playing chart sent or received WebSocket messages"
            page.click(".vega-embed g.play path")
            paused = step()
            quiet()
            assert step() == paused
        finally:
            browser.close()
