"""The server's side of playback in the browser (app_pages.browser_playback): where the chart is, from its
reports and the server's clock; a mid-run change replays to that step and continues with the new setting;
reports about an older chart, a finished run and a reset are handled; and the Playground wires it up."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("streamlit")
from playback_support import player_spec_of  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402
from vega_check import check_player_spec  # noqa: E402

from app_pages import browser_playback as bpb  # noqa: E402
from app_pages.live import Live  # noqa: E402
from steplab.problems import Quadratic  # noqa: E402
from steplab.trajectory import run  # noqa: E402
from steplab.transforms import optimizer  # noqa: E402

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PROBLEM = Quadratic([1.0, 10.0])
X0 = torch.tensor([[1.0, 1.0]], dtype=torch.float64)


def gd(eta: float, calls: list | None = None):
    """An ``advance`` for gradient descent with step ``eta`` (recording each call's number of steps)."""

    def advance(live: Live, k: int) -> Live:
        if calls is not None:
            calls.append((eta, k))
        return live.advance(lambda lv, n: run(PROBLEM, optimizer(lr=eta), lv.x, n, state=lv.state, seed=None), k)

    return advance


def start() -> Live:
    return Live.at(X0, PROBLEM.loss(X0))


def report(pos, playing, spec_id=0, fps=24, frames=100) -> dict:
    return {"pos": pos, "playing": playing, "fps": fps, "frames": frames, "id": spec_id}


def test_anchor_extrapolates_while_playing_and_stops_at_the_last_frame():
    anchor = bpb.Anchor(pos=10, playing=True, fps=24, frames=100, at=50.0)
    assert anchor.position(51.0) == pytest.approx(34)
    assert anchor.position(60.0) == 100  # capped at the last frame
    paused = bpb.Anchor(pos=10, playing=False, fps=24, frames=100, at=50.0)
    assert paused.position(60.0) == 10


def test_reports_about_another_chart_or_malformed_are_ignored():
    assert bpb.anchor_from_report(report(5, True, spec_id=1), spec_id=2, now=0.0) is None
    assert bpb.anchor_from_report({"pos": "x", "playing": True, "fps": 24, "frames": 9, "id": 0}, 0, 0.0) is None
    assert bpb.anchor_from_report(report(-1, True), 0, 0.0) is None
    assert bpb.anchor_from_report(report(5, True), 0, 3.0) == bpb.Anchor(5.0, True, 24.0, 100, 3.0)


def test_a_fresh_run_is_computed_once_and_shown_whole():
    calls = []
    played = bpb.update(None, steps=100, reset_key="a", live_key=0.1, start=start, advance=gd(0.1, calls), now=0.0)
    assert calls == [(0.1, 100)] and played.live.t == 100
    assert played.start_frame() == {"pos": 100, "playing": False}  # paused at the last frame: the whole run
    again = bpb.update(played, steps=100, reset_key="a", live_key=0.1, start=start, advance=gd(0.1, calls),
                       report=report(0, True), now=1.0)
    assert again is played and calls == [(0.1, 100)]  # a report alone computes nothing and keeps the chart
    assert played.anchor == bpb.Anchor(0.0, True, 24.0, 100, 1.0) and played.start_frame()["pos"] == 100


def test_a_change_while_playing_continues_from_the_step_the_chart_is_at():
    calls = []
    played = bpb.update(None, steps=100, reset_key="a", live_key=0.1, start=start, advance=gd(0.1), now=0.0)
    bpb.update(played, steps=100, reset_key="a", live_key=0.1, start=start, advance=gd(0.1),
               report=report(0, True), now=10.0)  # the user pressed play at t = 10 s
    changed = bpb.update(played, steps=100, reset_key="a", live_key=0.05, start=start, advance=gd(0.05, calls),
                         now=11.0)  # 1 s later at 24 frames/s: step 24
    assert changed.changes == [24] and changed.start_frame() == {"pos": 24, "playing": True}
    assert changed.spec_id == played.spec_id + 1
    old, new = played.live.history.iterates, changed.live.history.iterates
    assert torch.equal(new[:25], old[:25])  # the replayed prefix is the run that was shown
    grad = PROBLEM.oracle(old[24])[1]
    torch.testing.assert_close(new[25], old[24] - 0.05 * grad, rtol=1e-12, atol=0)  # the new step size from x_24
    assert not torch.equal(new[26], old[26])
    assert calls == [(0.05, 76)]  # the continuation computed once
    # a second change replays both earlier settings to their steps
    bpb.update(changed, steps=100, reset_key="a", live_key=0.05, start=start, advance=gd(0.05),
               report=report(30, False, spec_id=changed.spec_id), now=20.0)  # paused at frame 30
    twice = bpb.update(changed, steps=100, reset_key="a", live_key=0.2, start=start, advance=gd(0.2), now=99.0)
    assert twice.changes == [24, 30] and twice.start_frame() == {"pos": 30, "playing": False}
    assert torch.equal(twice.live.history.iterates[:31], new[:31])


def test_a_change_after_the_end_or_at_step_zero_recomputes_the_whole_run():
    played = bpb.update(None, steps=100, reset_key="a", live_key=0.1, start=start, advance=gd(0.1), now=0.0)
    ended = bpb.update(played, steps=100, reset_key="a", live_key=0.05, start=start, advance=gd(0.05), now=1.0)
    assert ended.changes == [] and ended.start_frame() == {"pos": 100, "playing": False}  # shown whole
    bpb.update(ended, steps=100, reset_key="a", live_key=0.05, start=start, advance=gd(0.05),
               report=report(0, True, spec_id=ended.spec_id), now=2.0)
    reset = bpb.update(ended, steps=100, reset_key="b", live_key=0.05, start=start, advance=gd(0.05), now=3.0)
    assert reset.changes == [] and reset.start_frame() == {"pos": 0, "playing": True}  # playing: replay from 0


def test_the_playground_continues_mid_run_from_the_reported_step(monkeypatch):
    """The page wired up: a report says the chart plays from step 0; a later η change continues from the
    extrapolated step, and the chart drawn starts there, playing, with the change marked on its panels."""
    clock = [100.0]
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["steps"] = "200"
    at.run()
    assert not at.exception
    played = at.session_state["_player.playground"]
    monkeypatch.setattr(bpb, "reported", lambda page: report(0, True, spec_id=played.spec_id, frames=200))
    monkeypatch.setattr(bpb.time, "monotonic", lambda: clock[0])
    at.run()  # the report arrives at t = 100 s
    clock[0] = 101.0
    next(w for w in at.select_slider if w.key == "playground.eta").set_value(0.05).run()
    assert not at.exception
    played = at.session_state["_player.playground"]
    assert played.changes == [24]
    spec = next(json.loads(c.proto.spec) for c in at.get("vega_lite_chart") if "signals" in json.loads(c.proto.spec))
    anim = next(s for s in spec["signals"] if s["name"] == "anim")["value"]
    assert anim["pos"] == 24 and anim["playing"]
    changes = [d["values"] for m in spec["marks"] if m.get("name") == "loss" for d in m["data"]
               if d["name"] == "loss_changes"]
    assert changes == [[{"s": 24}]]


def test_the_playground_chart_reads_only_what_it_defines_and_breaking_it_is_caught():
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["pins"] = "heavy_ball:0.1:0.9:none"
    at.run()
    spec = player_spec_of(at)
    check_player_spec(spec)
    titles = [" ".join(np.atleast_1d(m["title"]["text"])) for m in spec["marks"] if m.get("type") == "group"]
    assert len(titles) == 4 and titles[0].startswith("path on the loss landscape")
    broken = json.loads(json.dumps(spec))
    loss = next(m for m in broken["marks"] if m.get("name") == "loss")
    loss["marks"][3]["encode"]["update"]["fill"]["scale"] = "colour"  # a misspelt scale
    with pytest.raises(AssertionError, match="missing scales"):
        check_player_spec(broken)
    broken = json.loads(json.dumps(spec))
    next(m for m in broken["marks"] if m.get("name") == "grads")["data"][1]["source"] = "lines"
    with pytest.raises(AssertionError, match="reads missing"):
        check_player_spec(broken)


def test_resume_continues_a_path_computed_ahead_without_replaying_it():
    """``resume``: a mid-run change continues from the shown run cut back to step k (a diffusion sampler's path
    keeps x̄_0..x̄_k), with ``start`` not called again and no earlier segment replayed."""
    from app_pages.live import SamplerPath
    from steplab.diffusion import balanced_labels, noise, ring_gmm, sample, sigma_grid

    model, steps = ring_gmm(), 8
    x_t, labels = noise(16, 2, seed=0), balanced_labels(16, model.classes)
    grid, starts, resumed = sigma_grid(steps), [], []

    def start_path() -> SamplerPath:
        starts.append(1)
        return SamplerPath(path=sample(model, "plms4", steps, 15.0, x_t, labels, return_path=True)[1],
                           plan=("plms4", 15.0))

    def follow(method: str):
        return lambda live, k: live.follow((method, 15.0), model.eps_fn(labels, 15.0), grid, steps, k)

    def resume(live: SamplerPath, k: int) -> SamplerPath:
        resumed.append(k)
        return SamplerPath(path=live.path, plan=live.plan, t=k)

    run_ = dict(steps=steps, reset_key="a", start=start_path, resume=resume)
    played = bpb.update(None, live_key="plms4", advance=follow("plms4"), now=0.0, **run_)
    bpb.update(played, live_key="plms4", advance=follow("plms4"), report=report(0, True, frames=steps), now=10.0,
               **run_)
    changed = bpb.update(played, live_key="ddim", advance=follow("ddim"), now=10 + 3 / 24, **run_)  # frame 3
    assert starts == [1] and resumed == [3] and changed.changes == [3]
    old, new = played.live.path, changed.live.path
    assert torch.equal(new[:4], old[:4]) and not torch.equal(new[4:], old[4:])  # x̄_0..x̄_3 kept, then DDIM
    assert changed.live.t == steps and changed.live.plan == ("ddim", 15.0)
    from steplab.diffusion import integrate
    tail = integrate(model.eps_fn(labels, 15.0), old[3], grid[3:], "ddim", return_path=True)[1]
    assert torch.equal(new[3:], tail)  # DDIM from x̄_3 on the rest of the σ grid, integrated once


@pytest.mark.parametrize("page", ["playground", "clipping", "logistic", "diffusion", "rnn"])
def test_switching_between_the_browser_and_the_server_player_keeps_working(page):
    """One session: browser -> server -> browser -> server; each player starts anew from the other's state."""
    at = AppTest.from_file(APP, default_timeout=120)
    at.switch_page(f"app_pages/{page}.py")
    at.run()
    for mode in ("server", "browser", "server"):
        next(w for w in at.selectbox if w.key == f"{page}.playback").set_value(mode).run()
        assert not at.exception, (mode, [e.value for e in at.exception])
        state = at.session_state[f"_player.{page}"]
        assert isinstance(state, dict) == (mode == "server")
