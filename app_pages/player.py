"""Play / Pause / Step / Reset for a live trajectory, as a ``st.fragment(run_every=...)``.

A page supplies ``start()`` (a fresh live object at step 0, with ``.t``) and ``advance(live, k)``
(k more steps with the *current* settings, computed in one batched call). The player keeps the live
object in ``st.session_state`` and applies these rules:

* settings that define the experiment (``reset_key``: problem, start point, seed, ...) changed ->
  start again (showing the full run unless playing);
* hyper-parameters (``live_key``: eta, beta, c, method, ...) changed while paused/playing mid-run ->
  keep the current iterate and continue with the new setting (the change is marked at step t);
  changed when the run had finished or not started -> recompute the whole run;
* Play advances ``frame_steps`` steps per timer tick until ``steps`` is reached, then pauses.

Streamlit's ``run_every`` is fixed when the fragment is defined, so Play/Pause trigger a full rerun
(the pattern of Streamlit's "start and stop a streaming fragment" tutorial).

Every ``start``/``advance`` call is timed on the page's compute clock (:func:`app_pages.ui.measure`); a
playing frame gets its own clock (:func:`app_pages.ui.frame_clock`) and says under the charts where and in
how long that frame was computed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from app_pages import keys, ui
from app_pages.ui import compute_threads

FRAME_SECONDS = 0.1  # 10 frames per second


def _fresh(start, advance, steps: int, full: bool):
    live = start()
    if full:
        live = advance(live, steps)
    return live


def _timed(page: str, compute: Callable) -> Callable:
    """``compute`` timed on the page's current clock (each call adds to it)."""

    def timed(*args):
        with ui.measure(page):
            return compute(*args)

    return timed


def playback(page: str, *, steps: int, reset_key: Any, live_key: Any, start: Callable[[], Any],
             advance: Callable[[Any, int], Any], render: Callable[[Any, dict], None],
             frame_steps: int | None = None) -> dict:
    """Draw the transport buttons and the live fragment; return the player's state dict."""
    frame_steps = frame_steps or max(1, steps // 60)
    start, advance = _timed(page, start), _timed(page, advance)
    key = keys.player(page)
    state = st.session_state.get(key)
    if not isinstance(state, dict):
        state = None  # nothing yet, or the browser player's run (app_pages.browser_playback): start anew
    if state is None or state["reset_key"] != reset_key:
        playing = bool(state and state["playing"])
        state = {"live": _fresh(start, advance, steps, full=not playing), "playing": playing,
                 "reset_key": reset_key, "live_key": live_key, "changes": []}
        st.session_state[key] = state
    elif state["live_key"] != live_key:
        live = state["live"]
        if live.t >= state.get("steps", steps) or (live.t == 0 and not state["playing"]):
            state["live"] = _fresh(start, advance, steps, full=live.t > 0)
            state["changes"] = []
        else:
            state["changes"].append(live.t)
        state["live_key"] = live_key
    state["steps"] = steps

    bar = st.container(horizontal=True, vertical_alignment="center")  # buttons as wide as their labels, wrapping
    clicked = {
        "play": bar.button("Play", icon=":material/play_arrow:", key=keys.widget(page, "play"), width="content",
                           type="primary" if not state["playing"] else "secondary"),
        "pause": bar.button("Pause", icon=":material/pause:", key=keys.widget(page, "pause"), width="content"),
        "step": bar.button("Step", icon=":material/skip_next:", key=keys.widget(page, "step"), width="content"),
        "reset": bar.button("Reset", icon=":material/replay:", key=keys.widget(page, "reset"), width="content"),
    }
    if clicked["play"]:
        if state["live"].t >= steps:
            state["live"], state["changes"] = start(), []
        state["playing"] = True
    if clicked["pause"]:
        state["playing"] = False
    if clicked["step"]:
        if state["live"].t >= steps:
            state["live"], state["changes"] = start(), []
        state["live"] = advance(state["live"], 1)
        state["playing"] = False
    if clicked["reset"]:
        state["live"], state["changes"], state["playing"] = start(), [], False
    bar.caption(f"step {state['live'].t} / {steps}"
                + (f" · playing at {1 / FRAME_SECONDS:.0f} frames/s, {frame_steps} step(s) per frame"
                   if state["playing"] else " · paused" if 0 < state["live"].t < steps else ""))

    @st.fragment(run_every=FRAME_SECONDS if state["playing"] else None)
    def frame():
        with compute_threads():  # timer ticks rerun only this function, not app.py
            if state["playing"]:
                with ui.frame_clock(page) as clock:
                    tick()
                st.caption(clock.text(f"frame at step {state['live'].t}"))
            else:
                tick()

    def tick():
        if state["playing"]:
            remaining = steps - state["live"].t
            if remaining > 0:
                state["live"] = advance(state["live"], min(frame_steps, remaining))
            if state["live"].t >= steps:
                state["playing"] = False
                st.rerun()  # full rerun: stops the timer and refreshes the caption
        render(state["live"], state)

    frame()
    return state
