"""The dashboard on CUDA (issue 13 item 5): each page under AppTest with ``STEPLAB_DEVICE=cuda:0`` raises
nothing, computes on the GPU (the page's result tensors live there), says so in its caption, and runs its
largest ensemble (``app_pages.ensemble.SIZES``) with only aggregates drawn. Skipped without CUDA; run by
``make gpu-check`` (``pytest -m gpu``)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA (run on a GPU machine)")]

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PAGES = ["playground", "clipping", "logistic", "diffusion", "rnn"]


@pytest.fixture(autouse=True)
def on_cuda(monkeypatch):
    monkeypatch.setenv("STEPLAB_DEVICE", "cuda:0")


def open_page(page: str, **params) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=300)
    at.switch_page(f"app_pages/{page}.py")
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def live_of(at: AppTest, page: str):
    return at.session_state[f"_player.{page}"]["live"]


@pytest.mark.parametrize("page", PAGES)
def test_each_page_computes_on_cuda_and_says_so(page):
    at = open_page(page, **({"noise": "1"} if page == "playground" else {}))
    result = at.session_state[f"_result.{page}"]
    assert result["x"].device.type == "cuda", result["x"].device  # the page's live state: iterates / samples
    live = live_of(at, page)
    if page == "playground":
        assert live.notes["cloud"].x.device.type == "cuda"
    if page == "rnn":
        assert live.notes["starts x"].device.type == "cuda"
    captions = [c.value for c in at.caption if "computed on" in c.value]
    assert len(captions) == 1 and captions[0].startswith("this view computed on **cuda:0 ("), captions
    at.button(key=f"{page}.reset").click().run()
    at.button(key=f"{page}.play").click().run()
    at.run()  # one playing frame, computed on the device too
    assert not at.exception, [e.value for e in at.exception]
    assert live_of(at, page).t > 0
    frames = [c.value for c in at.caption if c.value.startswith("frame at step")]
    assert len(frames) == 1 and "computed on **cuda:0 (" in frames[0], frames


@pytest.mark.parametrize("page", PAGES)
def test_each_page_runs_its_largest_ensemble_and_draws_aggregates(page):
    from app_pages.ensemble import DENSITY_BINS, SIZES

    entry = SIZES[page]
    params = {entry.name: str(entry.cuda.high)}
    if page == "playground":
        params["noise"] = "1"
    at = open_page(page, **params)
    assert not at.warning or all(f"`{entry.name}`" not in w.value for w in at.warning)
    live = live_of(at, page)
    if page == "playground":
        assert live.notes["cloud"].drawn["members"] == entry.cuda.high
        assert live.notes["cloud"].drawn["cells"] <= DENSITY_BINS**2
    elif page == "clipping":
        assert live.notes["histogram counts"][0] == entry.cuda.high
    elif page == "logistic":
        assert len(at.session_state["_result.logistic"]["loss"]) == entry.cuda.high
    elif page == "diffusion":
        assert live.drawn["samples"] == entry.cuda.high
        assert live.path.device.type == "cuda"
    elif page == "rnn":
        assert live.notes["success"].shape[1] == 2 and live.notes["starts x"].shape[0] == 2 * entry.cuda.high


@pytest.mark.parametrize("page", PAGES)
def test_each_page_runs_on_the_auto_detected_gpu(page, monkeypatch):
    """Without STEPLAB_DEVICE, engines may pick the CPU for tiny work (steplab.device.resolve_device); the pages
    pass their device explicitly, so the pinned runs and the ensembles still meet on one device and nothing raises."""
    monkeypatch.delenv("STEPLAB_DEVICE", raising=False)
    at = open_page(page, **({"noise": "1"} if page == "playground" else {}))
    assert at.session_state[f"_result.{page}"]["x"].device.type == "cuda"
    at.button(key=f"{page}.step").click().run()
    assert not at.exception, [e.value for e in at.exception]
