"""The dashboard on CUDA (issue 13 item 5): each page under AppTest with ``STEPLAB_DEVICE=cuda:0`` raises
nothing, computes on the GPU (the page's result tensors live there), says so in its caption, and runs its
largest ensemble (``app_pages.ensemble.SIZES``) with only aggregates drawn. Skipped without CUDA; run by
``make gpu-check`` (``pytest -m gpu``).

Pages play in the browser by default (the whole run computed at once); the server player's frame is checked
under ``?playback=server``. ``STEPLAB_GPU_REHEARSAL=cpu`` runs these tests on the CPU (expecting ``cpu`` where
they expect ``cuda``), so a machine without a GPU can check that they still match the pages."""

from __future__ import annotations

import os

import pytest
import torch

pytest.importorskip("streamlit")
import playback_support  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

REHEARSAL = os.environ.get("STEPLAB_GPU_REHEARSAL") == "cpu"  # the same tests on the CPU
DEVICE, KIND = ("cpu", "cpu") if REHEARSAL else ("cuda:0", "cuda")
pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not (REHEARSAL or torch.cuda.is_available()),
                                 reason="needs CUDA (run on a GPU machine)")]

PAGES = ["playground", "clipping", "logistic", "diffusion", "rnn"]


@pytest.fixture(autouse=True)
def on_cuda(monkeypatch):
    monkeypatch.setenv("STEPLAB_DEVICE", DEVICE)


def open_page(page: str, **params) -> AppTest:
    if REHEARSAL and page == "rnn":
        params.setdefault("starts", "16")  # the CPU default is 0 random starts (the GPU's: 2048)
    return playback_support.open_page(page, timeout=300, **params)


def live_of(at: AppTest, page: str):
    state = at.session_state[f"_player.{page}"]
    return state["live"] if isinstance(state, dict) else state.live  # the server's player or the browser's


@pytest.mark.parametrize("page", PAGES)
def test_each_page_computes_on_cuda_and_says_so(page):
    at = open_page(page, **({"noise": "1"} if page == "playground" else {}))
    result = at.session_state[f"_result.{page}"]
    assert result["x"].device.type == KIND, result["x"].device  # the page's live state: iterates / samples
    live = live_of(at, page)
    if page == "playground":
        assert live.notes["cloud"].x.device.type == KIND
    if page == "rnn":
        assert live.notes["starts x"].device.type == KIND
    captions = [c.value for c in at.caption if "view computed on" in c.value]
    assert len(captions) == 1 and captions[0].startswith(f"this view computed on **{DEVICE}"), captions
    at = open_page(page, playback="server", **({"noise": "1"} if page == "playground" else {}))
    at.button(key=f"{page}.reset").click().run()
    at.button(key=f"{page}.play").click().run()
    at.run()  # one playing frame, computed on the device too
    assert not at.exception, [e.value for e in at.exception]
    assert live_of(at, page).t > 0
    frames = [c.value for c in at.caption if c.value.startswith("frame at step")]
    assert len(frames) == 1 and f"computed on **{DEVICE}" in frames[0], frames


@pytest.mark.parametrize("page", PAGES)
def test_each_page_runs_its_largest_ensemble_and_draws_aggregates(page):
    from app_pages.ensemble import DENSITY_BINS, SIZES

    entry = SIZES[page]
    high = entry.cpu.high if REHEARSAL else entry.cuda.high
    params = {entry.name: str(high)}
    if page == "playground":
        params["noise"] = "1"
    at = open_page(page, **params)
    assert not at.warning or all(f"`{entry.name}`" not in w.value for w in at.warning)
    live = live_of(at, page)
    if page == "playground":
        assert live.notes["cloud"].drawn["members"] == high
        assert live.notes["cloud"].drawn["cells"] <= DENSITY_BINS**2
    elif page == "clipping":
        assert live.notes["histogram counts"][0] == high
    elif page == "logistic":
        assert len(at.session_state["_result.logistic"]["loss"]) == high
    elif page == "diffusion":
        assert live.drawn["samples"] == high
        assert live.path.device.type == KIND
    elif page == "rnn":
        assert live.notes["success"].shape[1] == 2 and live.notes["starts x"].shape[0] == 2 * high


@pytest.mark.parametrize("page", PAGES)
def test_each_page_runs_on_the_auto_detected_gpu(page, monkeypatch):
    """Without STEPLAB_DEVICE, engines may pick the CPU for tiny work (steplab.device.resolve_device); the pages
    pass their device explicitly, so the pinned runs and the ensembles still meet on one device and nothing raises."""
    monkeypatch.delenv("STEPLAB_DEVICE", raising=False)
    at = open_page(page, **({"noise": "1"} if page == "playground" else {}))
    assert at.session_state[f"_result.{page}"]["x"].device.type == KIND
    at = open_page(page, playback="server", **({"noise": "1"} if page == "playground" else {}))
    at.button(key=f"{page}.step").click().run()
    assert not at.exception, [e.value for e in at.exception]
