"""What the tests of playback in the browser share: open a page under AppTest, find its player chart (the one
raw Vega spec among the page's charts) and a panel in it, and write the report a chart sends
(app_pages.browser_playback)."""

from __future__ import annotations

import json
from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "app.py")
VEGA = "https://vega.github.io/schema/vega/"


def open_page(page: str, timeout: float = 120, **params) -> AppTest:
    """The app at ``app_pages/<page>.py`` as if opened from a URL with ``params``, run once (each run within
    ``timeout`` seconds), no exception."""
    at = AppTest.from_file(APP, default_timeout=timeout)
    at.switch_page(f"app_pages/{page}.py")
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def player_spec_of(at: AppTest) -> dict:
    """The page's one player chart (a Vega spec; the other charts are Vega-Lite)."""
    players = [s for s in (json.loads(c.proto.spec) for c in at.get("vega_lite_chart"))
               if s.get("$schema", "").startswith(VEGA)]
    assert len(players) == 1, len(players)
    return players[0]


def panel(spec: dict, name: str) -> dict:
    """The panel (group mark) called ``name``."""
    return next(m for m in spec["marks"] if m.get("name") == name)


def report(pos, playing, spec_id, frames, fps=24, **more) -> dict:
    """What a chart sends on a transport action: frame ``pos`` of ``frames``, playing or not, at ``fps``."""
    return {"pos": pos, "playing": playing, "fps": fps, "frames": frames, "id": spec_id, **more}


def chart_places(at: AppTest) -> list[tuple]:
    """Where each chart sits in the page's element tree (the browser remounts a chart whose place changes)."""
    places = []

    def walk(node, path):
        for index, child in getattr(node, "children", {}).items():
            if getattr(child, "type", None) == "vega_lite_chart":
                places.append(path + (index,))
            walk(child, path + (index,))

    walk(at.main, ())
    return places
