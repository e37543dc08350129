"""Playback in the browser (app_pages.browser_player): the Vega spec's transport is wired to names that exist,
its data is valid JSON, the Playground draws it, and in headless Chromium the chart plays, pauses and scrubs
while no WebSocket message goes to or comes from the server."""

from __future__ import annotations

import base64
import json
import re
import struct
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from browser_support import CHROMIUM, playwright_or_skip, runs_finished, streamlit_server, wait_for_runs
from browser_support import CHROMIUM_ARGS as ARGS

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

from app_pages import browser_player as bp  # noqa: E402
from app_pages import charts, playground_vega  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS = {"now", "min", "max", "floor", "round", "clamp", "invert", "x", "format", "split", "width", "height",
             "datum", "null", "true", "false"}  # Vega expression functions and constants the specs use


def walk(node, found: list) -> list:
    """Every (key, value) pair of a nested spec."""
    if isinstance(node, dict):
        for key, value in node.items():
            found.append((key, value))
            walk(value, found)
    elif isinstance(node, list):
        for item in node:
            walk(item, found)
    return found


def names_used(expression: str) -> set[str]:
    """Identifiers an expression reads (not fields after '.', not object keys before ':', not strings)."""
    code = re.sub(r"'[^']*'", "''", expression)
    code = re.sub(r"([{,]\s*)[A-Za-z_]\w*\s*:", r"\1", code)  # object keys
    return set(re.findall(r"(?<![.\w])[A-Za-z_]\w*", code)) - FUNCTIONS


def example_group(diverged: bool = False) -> tuple[dict, pd.DataFrame]:
    xs, ys = np.linspace(-1, 1, 5), np.linspace(-2, 2, 4)
    cells = charts.grid_cells(xs, ys, np.arange(20.0).reshape(4, 5))
    iso = pd.DataFrame({"level": ["0.5:0"] * 3 + ["0.7:0"] * 2, "order": [0, 1, 2, 0, 1],
                        "x": [0.0, 0.1, 0.2, 0.3, 0.4], "y": [0.0, 0.1, 0.0, 0.2, 0.3]})
    path = pd.DataFrame({"run": [0, 0, 1, 1], "step": [0, 1, 0, 1], "x": [1.0, 0.5, 1.0, 2.0],
                         "y": [0.0, 0.1, 0.0, 0.4], "f": [1.0, 0.2, 1.0, np.inf if diverged else 3.0]})
    return playground_vega.contour_group(cells, iso, path, ["now: GD", "pin 1: HB"], np.zeros(2), (-1, 1, -2, 2),
                                         w="w1", h="h0"), cells


def test_frames_are_every_kth_step_and_the_last():
    assert bp.frame_stride(60) == 1 and bp.frame_stride(250) == 1 and bp.frame_stride(500) == 2
    assert bp.shown_steps(7, 3).tolist() == [0, 3, 6, 7]
    steps = bp.shown_steps(500, bp.frame_stride(500))
    assert len(steps) <= bp.MAX_FRAMES + 1 and steps[-1] == 500
    with pytest.raises(ValueError, match="steps"):
        bp.frame_stride(-1)


def test_transport_reads_only_signals_and_marks_that_exist():
    group, _ = example_group()
    spec = bp.player_spec([(300, [lambda w, h: group])], steps=500, stride=2, labels=["now: GD", "pin 1: HB"])
    assert spec["$schema"] == bp.VEGA_SCHEMA and "data" not in spec  # Streamlit would move a top-level data away
    pairs = walk(spec, [])
    signals = {value for key, value in pairs if key == "name" and isinstance(value, str)}
    expressions = [value for key, value in pairs if key in ("update", "signal", "expr") and isinstance(value, str)]
    assert expressions
    for expression in expressions:
        assert names_used(expression) <= signals, expression
    anim = next(s for s in spec["signals"] if s["name"] == "anim")
    events = [handler["events"] for handler in anim["on"]]
    assert "timer{16}" in events  # the play timer runs in the browser
    marks = {mark.get("name") for mark in spec["marks"]}
    for event in events:
        for mark in re.findall(r"@(\w+):", event):
            assert mark in marks, event  # the play button and the scrub bar the handlers listen to
    step = next(s for s in spec["signals"] if s["name"] == "step")
    assert names_used(step["update"]) == {"anim", "stride", "n"}


def test_paths_filtered_by_the_step_and_fields_exist():
    group, cells = example_group()
    data = {d["name"]: d for d in group["data"]}
    shown = data["shown"]["transform"][0]
    assert shown["type"] == "filter" and "datum.s <= step" in shown["expr"]
    for name in ("paths", "iso"):  # flattened fields are arrays of one length in every row
        fields = data[name]["transform"][0]["fields"]
        for row in data[name]["values"]:
            assert len({len(row[field]) for field in fields}) == 1, (name, row)
    image = next(m for m in group["marks"] if m["type"] == "image")["encode"]["update"]
    png = base64.b64decode(image["url"]["value"].removeprefix("data:image/png;base64,"))
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])  # the IHDR chunk: one pixel per grid cell
    assert (height, width) == (cells.y1.nunique(), cells.x1.nunique())
    assert (image["x"]["value"], image["x2"]["value"]) == (cells.x1.min(), cells.x2.max())
    assert (image["y"]["value"], image["y2"]["value"]) == (cells.y2.max(), cells.y1.min())  # top row = the largest y
    fields = {"r", "s", "x", "y", "f", "o", "seg"}
    used = {value for key, value in walk(group["marks"], []) if key == "field"}
    assert used <= fields, used - fields
    scales = {scale["name"] for scale in group["scales"]} | {"color"}  # run colours: player_spec's top level
    assert {value for key, value in walk(group["marks"], []) if key == "scale"} <= scales


def test_an_overflowed_loss_is_sent_as_null_not_nan():
    group, _ = example_group(diverged=True)
    text = json.dumps(group, allow_nan=False)  # JSON.parse in the browser rejects NaN / Infinity
    assert next(d for d in json.loads(text)["data"] if d["name"] == "paths")["values"][1]["f"] == [1.0, None]


def test_playground_in_browser_mode_draws_the_vega_player():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params["playback"] = "browser"
    at.query_params["steps"] = "40"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    specs = [json.loads(chart.proto.spec) for chart in at.get("vega_lite_chart")]
    players = [spec for spec in specs if spec.get("$schema") == bp.VEGA_SCHEMA]
    assert len(players) == 1
    assert next(s for s in players[0]["signals"] if s["name"] == "n")["value"] == 40
    assert at.session_state["_result.playground"]["t"] == 40  # the whole run computed once
    assert not [b for b in at.button if b.key == "playground.play"]  # no server transport in this mode


# ----------------------------------------------------------------------------- in a real browser


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    playwright_or_skip()  # skip before starting a server no browser could open
    with streamlit_server(tmp_path_factory.mktemp("streamlit") / "streamlit.log") as base:
        yield base


@pytest.mark.browser
def test_the_browser_plays_pauses_and_scrubs_without_a_server_message(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            check_playback(browser.new_page(viewport={"width": 1200, "height": 900}), server)
        finally:
            browser.close()


def check_playback(page, server: str) -> None:
    """The whole run shown; play 1.5 s (no WebSocket message while playing), pause, scrub to the middle (the
    reports these send rerun the page without restarting the chart); play again and move the η slider: the new
    chart continues from the step the old one was at, still playing."""
    frames = []

    def listen(ws):
        ws.on("framesent", lambda payload: frames.append(("sent", payload)))
        ws.on("framereceived", lambda payload: frames.append(("received", payload)))

    page.on("websocket", listen)
    page.goto(f"{server}/?steps=200")  # playback in the browser is the default
    page.wait_for_selector(".vega-embed g.counter text", timeout=90_000)
    wait_for_runs(page, frames, 1)  # the first run is over

    def step() -> int:
        return int(re.search(r"step (\d+) / 200", page.text_content(".vega-embed g.counter text")).group(1))

    def drawn() -> str:
        return page.get_attribute(".vega-embed g.runline path", "d")

    assert step() == 200  # a new run is shown whole
    runs = runs_finished(frames)
    page.click(".vega-embed g.play path")  # restarts from step 0
    wait_for_runs(page, frames, runs + 1)  # the play report's rerun is over
    start, path_start, messages = step(), drawn(), len(frames)
    page.wait_for_timeout(1500)
    playing = step()
    assert playing - start >= 20, (start, playing)  # 24 frames/s by default: ~36 steps in 1.5 s
    assert drawn() != path_start  # the path on the chart grew, not only the counter
    assert len(frames) == messages, "a playing chart sent or received WebSocket messages"
    page.click(".vega-embed g.play path")  # pause
    paused = step()
    page.wait_for_timeout(800)
    assert step() == paused  # the pause report's rerun left the chart as it was
    box = page.locator(".vega-embed g.track path").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_timeout(800)
    assert abs(step() - 100) <= 2
    page.click(".vega-embed g.play path")  # play on from the middle
    page.wait_for_timeout(800)
    page.evaluate("s => document.querySelector(s).focus()", ".st-key-playground-eta input[type=range]")
    at_press = step()
    page.keyboard.press("ArrowRight")
    seen = [at_press]
    deadline = time.time() + 10
    while time.time() < deadline and not (len(seen) > 1 and seen[-1] < seen[-2]):
        page.wait_for_timeout(40)
        seen.append(step())
    assert seen[-1] < seen[-2], f"no new chart within 10 s of the slider move: {seen}"
    resumed = seen[-1]  # the new chart's first frame: the step the server continued from
    assert at_press <= resumed <= at_press + 24, (at_press, resumed)  # within a second of where it was
    page.wait_for_timeout(1000)
    assert step() >= resumed + 12, "the new chart did not play on"
