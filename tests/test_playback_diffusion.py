"""The diffusion page (ring mode) played in the browser (app_pages.diffusion_vega): one Vega chart whose panels
(samples, stability region, δλ per step, readout) follow one step and hold finite data for every step; a
sampler change mid-run continues from x̄_k of the path shown (integrated on once, the change marked); the
readout reports divergence per step; in headless Chromium the chart plays with no WebSocket message."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from browser_support import CHROMIUM, playwright_or_skip, streamlit_server
from browser_support import CHROMIUM_ARGS as ARGS

pytest.importorskip("streamlit")
from playback_support import chart_places  # noqa: E402
from playback_support import open_page as open_any  # noqa: E402
from playback_support import player_spec_of as player_spec  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402
from vega_check import check_player_spec  # noqa: E402

from app_pages import browser_playback as bpb  # noqa: E402
from steplab.diffusion import balanced_labels, integrate, ring_gmm, sigma_grid  # noqa: E402

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PLAYER = "_player.diffusion"


def open_page(**params) -> AppTest:
    return open_any("diffusion", **params)


def data_of(spec: dict) -> dict[str, list]:
    """Every inline data set of the player's panels: name -> its rows (not flattened)."""
    return {d["name"]: d["values"] for m in spec["marks"] if m.get("type") == "group" for d in m.get("data", [])
            if "values" in d}


def report(pos, playing, spec_id, frames) -> dict:
    return {"pos": pos, "playing": playing, "fps": 24, "frames": frames, "id": spec_id}


def test_the_chart_reads_only_what_it_defines_and_holds_every_step():
    at = open_page(samples="64")
    spec = player_spec(at)
    check_player_spec(spec)
    data, steps = data_of(spec), 8
    samplers = {(row["s"], row["g"]) for row in data["samples"]}
    assert samplers == {(s, g) for s in range(steps + 1) for g in (0, 1)}  # hb3.6 and plms4 at every step
    for row in data["samples"]:
        assert len(row["x"]) == len(row["y"]) == len(row["c"]) and np.isfinite(row["x"] + row["y"]).all()
    assert sum(len(r["x"]) for r in data["samples"] if r["s"] == 0 and r["g"] == 0) == 64  # x_T: all in view
    assert [row["s"] for row in data["z"]] == list(range(steps)) and all(len(r["re"]) == 64 for r in data["z"])
    assert {row["a"] for row in data["locus"]} == {0, 1, 2, 3}  # ddim, hb1.6, hb2.6, hb3.6: the warm-up's regions
    assert [len(line["s"]) for line in data["history_lines"]] == [steps, steps]
    assert [row["s"] for row in data["readout"]] == list(range(steps + 1))
    signals = {s["name"]: s for s in spec["signals"]}
    assert signals["n"]["value"] == steps and signals["anim"]["value"]["pos"] == steps  # shown whole, paused
    broken = json.loads(json.dumps(spec))
    panel = next(m for m in broken["marks"] if m.get("type") == "group" and any(
        d["name"] == "z_now" for d in m.get("data", [])))
    next(d for d in panel["data"] if d["name"] == "z_now")["source"] = "zz"
    with pytest.raises(AssertionError, match="reads missing"):
        check_player_spec(broken)


def test_the_readout_reports_divergence_at_the_step_it_happens():
    """PLMS4 at N = 8, w = 15 diverges: the chart's readout says so from the step the samples are lost, in red,
    with the page's wording (the same text as the end-of-run error outside the chart)."""
    at = open_page(family="plms", m="4", samples="128")
    rows = {row["s"]: row for row in data_of(player_spec(at))["readout"]}
    red = {s: " ".join(t for t, e in zip(row["t"], row["e"]) if e) for s, row in rows.items()}
    assert red[0] == "" and "diverged since step" in red[8] and "stability interval of" in red[8]
    first = int(re.search(r"since step (\d+)", red[8]).group(1))
    assert all(red[s] for s in range(first, 9)) and not any(red[s] for s in range(first))
    end = next(e.value for e in at.error if "At the end of the run" in e.value)
    assert re.sub(r"\s+", " ", red[8].split(" — ", 1)[1]) in end


def test_the_end_of_run_error_coming_and_going_leaves_the_chart_in_place():
    at = open_page(samples="128")  # hb3.6 at N = 8, w = 15: none diverged at the end
    before, quiet = chart_places(at), len(at.error)
    next(w for w in at.slider if w.key == "diffusion.m").set_value(4.0).run()  # PLMS4: some diverge
    assert before and len(at.error) > quiet and chart_places(at) == before  # the box is there, the chart stays


def test_a_sampler_change_mid_run_continues_from_the_reported_step(monkeypatch):
    """A report says the chart plays from step 0 at t = 100 s; at 100 + 4/24 s the sampler changes to DDIM: the path
    keeps x̄_0..x̄_4 and continues with DDIM from x̄_4; the new chart starts there, playing, the change marked."""
    clock = [100.0]
    at = open_page(samples="64")
    played = at.session_state[PLAYER]
    old = played.live.path.clone()
    monkeypatch.setattr(bpb, "reported", lambda page: report(0, True, played.spec_id, 8))
    monkeypatch.setattr(bpb.time, "monotonic", lambda: clock[0])
    at.run()
    clock[0] = 100.0 + 4 / 24
    next(w for w in at.selectbox if w.key == "diffusion.family").set_value("ddim").run()
    assert not at.exception, [e.value for e in at.exception]
    changed = at.session_state[PLAYER]
    assert changed.changes == [4] and changed.live.plan == ("ddim", 15.0) and changed.live.t == 8
    new = changed.live.path
    assert torch.equal(new[:5], old[:5]) and not torch.equal(new[5:], old[5:])
    model = ring_gmm()
    tail = integrate(model.eps_fn(balanced_labels(64, model.classes), 15.0), old[4], sigma_grid(8)[4:], "ddim",
                     return_path=True)[1]
    torch.testing.assert_close(new[4:], tail)
    spec = player_spec(at)
    anim = next(s for s in spec["signals"] if s["name"] == "anim")["value"]
    assert anim["pos"] == 4 and anim["playing"]
    assert data_of(spec)["history_changes"] == [{"s": 4}]


def test_a_long_run_sends_the_same_few_samples_every_step():
    """N = 50 and 1,024 samples: at most POINTS_SENT numbers of positions, evenly spaced samples (the same every
    step, so a point moves rather than jumps), and the titles say how many of all the samples are drawn."""
    from app_pages import diffusion_vega

    spec = player_spec(open_page(steps="50", samples="1024"))
    data = data_of(spec)
    assert 2 * sum(len(r["x"]) for r in data["samples"]) <= diffusion_vega.POINTS_SENT
    first = [r for r in data["samples"] if r["s"] == 0 and r["g"] == 0][0]
    assert 64 <= len(first["c"]) < 1024 and set(first["c"]) == set(range(8))  # every class among those drawn
    assert all(len(r["x"]) == len(first["x"]) for r in data["samples"] if r["g"] == 0)  # all finite: hb3.6, w = 15
    assert all(len(r["re"]) < 1024 for r in data["z"])
    titles = [" ".join(m["title"]["text"]) for m in spec["marks"] if m.get("type") == "group"][:2]
    assert all("of 1,024" in title for title in titles), titles


def test_many_samples_are_sent_as_a_density_per_step(monkeypatch):
    """Above ensemble.POINTS_MAX samples (lowered to 100 here) the chart gets a density of all of them per step,
    not points: the cells count the samples in view at each step, and at w = 5 all 128 end in view."""
    monkeypatch.setenv("STEPLAB_DEVICE", "cpu")
    from app_pages import ensemble
    monkeypatch.setattr(ensemble, "POINTS_MAX", 100)
    data = data_of(player_spec(open_page(samples="128", guidance="5")))
    assert "samples" not in data and [row["s"] for row in data["cells"]] == list(range(9))
    assert all(0 < sum(row["n"]) <= 128 and len(row["i"]) <= 48 * 48 for row in data["cells"])
    assert sum(data["cells"][-1]["n"]) == 128


# ----------------------------------------------------------------------------- digits mode


def test_digits_chart_holds_both_grids_at_every_step_in_the_colours_of_the_server_image():
    """Digits mode: the grids of this sampler and the comparison at every step (1,024 pixel codes a frame), which
    decode to the server player's image (grid_image), and the out-of-range share per step as a series."""
    from app_pages import diffusion_digits as dd
    from app_pages import diffusion_digits_vega as ddv

    at = open_page(mode="digits", steps="6")
    spec = player_spec(at)
    check_player_spec(spec)
    data, steps = data_of(spec), 6
    for g in (0, 1):  # hb3.8 and plms4
        rows = data[f"grid{g}_pixels"]
        assert [r["s"] for r in rows] == list(range(steps + 1)) and all(len(r["v"]) == 1024 for r in rows)
        assert all(0 <= c <= ddv.NOT_FINITE for r in rows for c in r["v"])
    live = at.session_state["_player.diffusion_digits"].live
    x = dd.data_scale(live.path.cpu(), sigma_grid(steps).tolist())
    image = dd.grid_image(x[-1])[:: dd.ZOOM, :: dd.ZOOM]  # one value per image pixel, white gaps included
    codes = np.array(data["grid0_pixels"][-1]["v"])
    for j in range(0, 1024, 37):
        tile, p = divmod(j, 64)
        pixel = image[(tile // 4) * 10 + 1 + p // 8, (tile % 4) * 10 + 1 + p % 8]
        code = codes[j]
        expected = ({ddv.ABOVE: (0.95, 0.15, 0.15), ddv.BELOW: (0.15, 0.35, 0.95), ddv.NOT_FINITE: (0.9, 0.0, 0.9)}
                    .get(code, (code / 255,) * 3))
        np.testing.assert_allclose(pixel, expected, atol=1 / 255)
    share = at.session_state["_result.diffusion_digits"]["out_of_range"]
    line = next(line for line in data["oor_lines"] if line["r"] == 0)
    np.testing.assert_allclose(line["v"], share, rtol=1e-3)
    assert line["s"] == list(range(steps + 1))


def test_digits_sampler_change_mid_run_continues_from_the_reported_step(monkeypatch):
    clock = [100.0]
    at = open_page(mode="digits", steps="8")
    played = at.session_state["_player.diffusion_digits"]
    old = played.live.path.clone()
    monkeypatch.setattr(bpb, "reported", lambda page: report(0, True, played.spec_id, 8))
    monkeypatch.setattr(bpb.time, "monotonic", lambda: clock[0])
    at.run()
    clock[0] = 100.0 + 3 / 24
    next(w for w in at.selectbox if w.key == "diffusion_digits.sampler").set_value("ddim").run()
    assert not at.exception, [e.value for e in at.exception]
    changed = at.session_state["_player.diffusion_digits"]
    assert changed.changes == [3] and changed.live.plan[0] == "ddim" and changed.live.t == 8
    assert torch.equal(changed.live.path[:4], old[:4]) and not torch.equal(changed.live.path[4:], old[4:])
    spec = player_spec(at)
    assert next(s for s in spec["signals"] if s["name"] == "anim")["value"]["pos"] == 3
    assert data_of(spec)["oor_changes"] == [{"s": 3}]


# ----------------------------------------------------------------------------- in a real browser


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    playwright_or_skip()
    with streamlit_server(tmp_path_factory.mktemp("streamlit") / "streamlit.log") as base:
        yield base


def plays_without_a_message(browser, url: str, steps: int, readout: str) -> None:
    """Open ``url``: the whole run shown (the readout at the last step); ▶ from step 0 advances the counter and the
    readout at 24 frames/s with no WebSocket message either way while playing."""
    page, frames = browser.new_page(viewport={"width": 1200, "height": 1000}), []
    page.on("websocket", lambda ws: (ws.on("framesent", lambda p: frames.append(p)),
                                     ws.on("framereceived", lambda p: frames.append(p))))
    page.goto(url)
    page.wait_for_selector(".vega-embed g.counter text", timeout=120_000)
    page.wait_for_timeout(1500)

    def step() -> int:
        return int(re.search(rf"step (\d+) / {steps}", page.text_content(".vega-embed g.counter text")).group(1))

    def shown() -> str:
        return " ".join(page.locator(f".vega-embed g.{readout} text").all_text_contents())

    assert step() == steps and f"step {steps} / {steps}" in shown()
    page.click(".vega-embed g.play path")  # from step 0
    page.wait_for_timeout(400)  # the play report's rerun is over
    start, messages = step(), len(frames)
    page.wait_for_timeout(400)
    counter, text = page.evaluate(  # both read in one go, from the same drawn frame
        f"() => [document.querySelector('.vega-embed g.counter text').textContent, [...document.querySelectorAll("
        f"'.vega-embed g.{readout} text')].map(t => t.textContent).join(' ')]")
    now = int(re.search(rf"step (\d+) / {steps}", counter).group(1))
    assert now - start >= 6 and now < steps, (start, now)  # 24 frames/s: ~10 frames in 0.4 s
    assert f"step {now} / {steps} (" in text, (now, text)  # the readout shows the step the counter shows
    assert len(frames) == messages, "a playing chart sent or received WebSocket messages"
    page.close()


@pytest.mark.browser
def test_the_diffusion_chart_plays_in_the_browser_without_a_server_message(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            plays_without_a_message(browser, f"{server}/diffusion?steps=50&samples=64", 50, "readout_text")
            plays_without_a_message(browser, f"{server}/diffusion?mode=digits&steps=50", 50, "readout_text")
            page = browser.new_page(viewport={"width": 1000, "height": 700})
            page.goto(f"{server}/diffusion?mode=digits")
            page.wait_for_selector(".vega-embed g.counter text", timeout=120_000)
            assert page.locator(".vega-embed g.grid0_cells path").count() == 1024  # one rect per pixel
        finally:
            browser.close()
