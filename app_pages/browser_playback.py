"""The server's side of playback in the browser: compute the whole run once per change, draw it as one Vega
chart that animates itself (:mod:`app_pages.browser_player`), and continue from the step the chart is at when a
setting changes mid-run.

How the server knows that step without a message per frame: the chart reports ``{pos, playing, fps, frames,
id}`` only when the user presses play/pause, scrubs or changes the speed (Streamlit's chart selections carry it:
``on_select="rerun"`` on a signal named ``report``). The server stamps each new report with its own clock; a
later rerun extrapolates: ``pos + (now - stamp) x fps`` while playing (capped at the last frame), ``pos`` when
paused (:class:`Anchor`). When the server sends a new chart it anchors at the frame it starts from, stamped when
the chart element is sent. Between user actions a playing chart costs the server nothing.

Mid-run change (``live_key`` changed at step 0 < k < steps): the run is replayed from its start through the
earlier settings' segments up to k (each segment's ``advance`` was kept; the noise streams restart from their
seeds, so the replay is the run that was shown), then continued with the new settings to ``steps``: one batched
call per segment. Settings in ``reset_key`` (problem, start, seed, ...) restart the run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import streamlit as st

from app_pages import keys
from app_pages.browser_player import FPS, frame_stride, last_frame


@dataclass(frozen=True)
class Anchor:
    """Where a chart's animation is at server time ``at`` (``time.monotonic()``): frame ``pos`` of ``frames``."""

    pos: float
    playing: bool
    fps: float
    frames: int
    at: float

    def position(self, now: float) -> float:
        """The frame shown at server time ``now``: extrapolated while playing, capped at the last frame."""
        moved = (now - self.at) * self.fps if self.playing else 0.0
        return float(min(max(self.pos + moved, 0.0), self.frames))


def anchor_from_report(report: Any, spec_id: int, now: float) -> Anchor | None:
    """A chart's report as an :class:`Anchor` stamped ``now``; ``None`` if it is missing, malformed or about an
    older chart (its ``id`` is not ``spec_id``)."""
    if not isinstance(report, dict) or report.get("id") != spec_id:
        return None
    try:
        pos, fps, frames = float(report["pos"]), float(report["fps"]), int(report["frames"])
    except (KeyError, TypeError, ValueError):
        return None
    if not (pos >= 0 and fps > 0 and frames >= 0):
        return None
    return Anchor(pos, bool(report.get("playing")), fps, frames, now)


@dataclass
class Played:
    """One page's run as the browser plays it (kept in ``st.session_state``)."""

    live: Any
    reset_key: Any
    live_key: Any
    steps: int
    anchor: Anchor
    advance: Callable  # the settings the run after the last change was computed with
    segments: list = field(default_factory=list)  # [(advance, until step)] of earlier settings
    changes: list = field(default_factory=list)  # steps where a setting changed mid-run
    spec_id: int = 0
    last_report: Any = None
    sent_id: int = -1  # the spec_id of the last chart drawn

    def __post_init__(self):
        # where this run's chart starts: fixed when the run is computed, so reports (which move the anchor) leave
        # the spec unchanged and Streamlit keeps the playing chart
        self.start = {"pos": self.anchor.pos, "playing": self.anchor.playing}

    @property
    def stride(self) -> int:
        return frame_stride(self.steps)

    def start_frame(self) -> dict:
        """The chart's starting point {pos, playing}: the anchor when this run was computed."""
        return dict(self.start)


def chart_key(page: str) -> str:
    return keys.widget(page, "chart")


def reported(page: str) -> Any:
    """The chart's last report, as Streamlit's selection state holds it."""
    value = st.session_state.get(chart_key(page))
    selection = value.get("selection", {}) if hasattr(value, "get") else {}
    return selection.get("report") if hasattr(selection, "get") else None


def update(previous: Played | None, *, steps: int, reset_key: Any, live_key: Any, start: Callable[[], Any],
           advance: Callable[[Any, int], Any], report: Any = None, now: float | None = None,
           resume: Callable[[Any, int], Any] | None = None) -> Played:
    """The run to show after this rerun (pure apart from calling ``start``/``advance``; see the module text).
    A new chart keeps the speed the last one played at. ``resume(live, k)``, when given, is the shown run cut
    back to step k, continued from directly at a mid-run change instead of replaying the segments (a sampler
    path computed ahead keeps its steps up to k)."""
    now = time.monotonic() if now is None else now
    if previous is not None and report is not None and report != previous.last_report:
        anchor = anchor_from_report(report, previous.spec_id, now)
        previous.last_report = report
        if anchor is not None:
            previous.anchor = anchor
    if previous is not None and previous.reset_key == reset_key and previous.live_key == live_key \
            and previous.steps == steps:
        return previous  # nothing to compute: the chart stays as it is (same spec, the animation goes on)
    frames = last_frame(steps)
    spec_id = 0 if previous is None else previous.spec_id + 1
    fps = FPS if previous is None else previous.anchor.fps
    if previous is not None and previous.reset_key == reset_key:
        pos = previous.anchor.position(now)
        k = min(int(pos) * previous.stride, previous.steps)
        if 0 < k < min(steps, previous.steps):  # mid-run: replay to k, continue with the new settings
            segments = previous.segments + [(previous.advance, k)]
            if resume is not None:
                live = resume(previous.live, k)
            else:
                live = start()
                for earlier, until in segments:
                    live = earlier(live, until - live.t)
            live = advance(live, steps - k)
            pos = k // frame_stride(steps)
            return Played(live, reset_key, live_key, steps, Anchor(pos, previous.anchor.playing, fps, frames, now),
                          advance, segments, previous.changes + [k], spec_id)
    playing = previous is not None and previous.anchor.playing and previous.anchor.position(now) < frames
    # a fresh run: played from frame 0 if the chart was playing, else shown whole (at its last frame)
    live = advance(start(), steps)
    return Played(live, reset_key, live_key, steps, Anchor(0 if playing else frames, playing, fps, frames, now),
                  advance, spec_id=spec_id)


def playback(page: str, **run) -> Played:
    """:func:`update` on this page's stored run with the chart's latest report; stored back."""
    key = keys.player(page)
    previous = st.session_state.get(key)
    played = update(previous if isinstance(previous, Played) else None, report=reported(page), **run)
    st.session_state[key] = played
    return played


def draw(page: str, played: Played, spec: dict, container=None) -> None:
    """Draw the page's player chart (its reports come back as selections); a newly computed run's anchor is
    stamped when its chart is sent, the moment the browser starts playing it."""
    spec = {**spec, "params": [{"name": "report", "select": "point"}]}  # what st.vega_lite_chart's on_select reads
    (container or st).vega_lite_chart(spec, width="stretch", on_select="rerun", selection_mode=["report"],
                                      key=chart_key(page))
    if played.sent_id != played.spec_id:
        played.anchor, played.sent_id = replace(played.anchor, at=time.monotonic()), played.spec_id
