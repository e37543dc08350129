"""The dashboard's process-wide settings: the heap alive after the first run is frozen once, so Streamlit's
post-run ``gc.collect(2)`` no longer walks torch, pandas and altair on every rerun (app_pages.ui.freeze_heap_once)."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

pytest.importorskip("streamlit")
from playback_support import chart_places  # noqa: E402

from app_pages import ui  # noqa: E402


@pytest.fixture
def fresh_freeze(monkeypatch):
    monkeypatch.setattr(ui, "_FROZEN", [])
    yield
    gc.unfreeze()


def test_the_heap_is_frozen_once_per_process(fresh_freeze):
    import torch  # noqa: F401  (the modules a page imports are alive before the first freeze)

    assert ui.freeze_heap_once() is True
    frozen = gc.get_freeze_count()
    assert frozen > 10_000  # torch alone: far more objects than a run creates
    garbage = [[i] for i in range(1000)]
    assert ui.freeze_heap_once() is False  # later runs freeze nothing more: their objects stay collectable
    assert gc.get_freeze_count() <= frozen  # (frozen objects that die leave the count)
    del garbage


def test_app_freezes_after_its_first_run(fresh_freeze):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=120)
    at.run()
    assert not at.exception
    assert ui._FROZEN and gc.get_freeze_count() > 10_000
    frozen = gc.get_freeze_count()
    at.run()
    assert gc.get_freeze_count() <= frozen  # once per process, not per run (a second freeze adds the run)


@pytest.mark.parametrize("page,key,calm,alarming", [
    ("playground", "playground.eta", 0.1, 0.3),  # 0.3 > 2/L: a "diverged" box above the charts
    ("rnn", "rnn.eta", 1.2, 1.0)])  # the defaults' unclipped run is thrown off the cliff at 1.0, not at 1.2
def test_a_message_box_coming_and_going_leaves_the_charts_in_place(page, key, calm, alarming):
    """The browser rebuilds a chart whose place in the page changes; messages live in one fixed container."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=120)
    at.switch_page(f"app_pages/{page}.py")
    at.run()
    slider = next(w for w in at.select_slider if w.key == key)
    slider.set_value(calm).run()
    before, quiet = chart_places(at), len(at.error)
    next(w for w in at.select_slider if w.key == key).set_value(alarming).run()
    assert len(at.error) > quiet  # the message box is there ...
    assert before and chart_places(at) == before  # ... and every chart is where it was
