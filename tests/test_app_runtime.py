"""The dashboard's process-wide settings: the heap alive after the first run is frozen once, so Streamlit's
post-run ``gc.collect(2)`` no longer walks torch, pandas and altair on every rerun (app_pages.ui.freeze_heap_once)."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

pytest.importorskip("streamlit")
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
