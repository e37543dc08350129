"""Pinned runs: up to ``MAX_RUNS - 1`` settings overlaid on the current one, with the same seed and
start point, mirrored in the URL as ``?pins=a;b``.

One pin order on every page: a setting with a step size and a clip threshold is written ``eta:c``
(the playground's ``method:eta:beta:clip`` also puts the step size before the threshold).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from app_pages import keys
from app_pages.controls import Controls, readings

MAX_RUNS = 4  # settings overlaid on a page: the current one and up to 3 pinned
PIN_ORDER = ("eta", "c")  # how a (step size, clip threshold) pin is written in a link


def step_clip_pins(specs: dict, held_as: tuple[str, str]):
    """``(parse, format)`` for (η, c) pins written ``'eta:c'``, each number checked against its control's range.

    A pin is held as a tuple in the page's own order ``held_as`` (a permutation of ``PIN_ORDER``);
    only the link text has the one order.
    """
    if sorted(held_as) != sorted(PIN_ORDER):
        raise ValueError(f"held_as must order {PIN_ORDER}, got {held_as}")
    written = ":".join(PIN_ORDER)

    def parse(text: str) -> tuple[float, float]:
        try:
            parts = dict(zip(PIN_ORDER, text.split(":"), strict=True))
        except ValueError:
            raise ValueError(f"'{text}' is not {written}") from None
        return tuple(specs[name].parse(parts[name]) for name in held_as)

    def format(pin: tuple[float, float]) -> str:
        values = dict(zip(held_as, pin, strict=True))
        return ":".join(f"{values[name]:g}" for name in PIN_ORDER)

    return parse, format


def read(parse: Callable[[str], Any], text: str) -> Any:
    """``parse`` one pin's link text, also with spaces read back as '+' (:func:`controls.readings`:
    a hand-typed ``dpm++`` arrives as ``'dpm  '``); the first reading's error when none parses."""
    first = None
    for reading in readings(text):
        try:
            return parse(reading)
        except ValueError as error:
            first = first or error
    raise first


class Pins:
    """The pinned settings of one page: overlaid on the current setting, same seed and start point.

    A pin is any hashable value (a frozen dataclass, a tuple, a sampler name). The page supplies
    ``parse`` (one pin's URL text -> value; ValueError when invalid) and ``format`` (value -> URL text).
    The list lives in ``st.session_state['<page>.pins']``; on a fresh visit it is restored from
    ``?pins=a;b`` (an invalid entry warns and pins nothing) and :meth:`param` mirrors it back.
    Create it before the run is computed (:attr:`values`), draw :meth:`buttons` after it.
    """

    def __init__(self, ctl: Controls, parse: Callable[[str], Any], format: Callable[[Any], str]):
        self.page = ctl.page
        self.key = keys.pins(ctl.page)
        self.format = format
        if self.key not in st.session_state:
            st.session_state[self.key] = []
            parts = [p for p in ctl.url.get("pins", "").split(";") if p.strip()]
            message = None
            try:
                pinned = [read(parse, part) for part in parts]
                st.session_state[self.key] = pinned[: MAX_RUNS - 1]
                if len(pinned) > MAX_RUNS - 1:
                    message = (f"Link parameter `pins`: {len(pinned)} settings given, but a page overlays at most "
                               f"{MAX_RUNS - 1} besides the current one; pinned the first {MAX_RUNS - 1}.")
            except ValueError as error:
                message = f"Invalid link parameter `pins`: {error}; no pinned runs."
            if message:
                st.session_state.setdefault(keys.warnings(self.page), []).append(message)
                st.warning(message, icon=":material/warning:")

    @property
    def values(self) -> list:
        return list(st.session_state[self.key])

    def param(self) -> str:
        return ";".join(self.format(pin) for pin in st.session_state[self.key])

    def buttons(self, current: Any, what: str = "run") -> None:
        """'Pin for comparison' (adds ``current``; at most MAX_RUNS - 1 pins, then says so) and 'Clear pins'."""
        pins = st.session_state[self.key]
        full = len(pins) >= MAX_RUNS - 1
        bar = st.container(horizontal=True, vertical_alignment="center")  # labels never cut, wrapping
        if bar.button("Pin for comparison", icon=":material/push_pin:", disabled=full, width="content",
                     key=keys.widget(self.page, "pin"),
                     help=f"Keep this {what} on the charts; then move the sliders to compare (same seed and start)."):
            if len(pins) < MAX_RUNS - 1:
                st.session_state[self.key] = pins + [current]
                st.rerun()
        if bar.button("Clear pins", icon=":material/close:", disabled=not pins, width="content",
                     key=keys.widget(self.page, "unpin")):
            st.session_state[self.key] = []
            st.rerun()
        if full:
            bar.caption(f"{len(pins)} settings pinned besides this one, the most a page overlays ({MAX_RUNS}): "
                         f"clear the pins to pin another.")
        elif pins:
            bar.caption(f"{1 + len(pins)} of at most {MAX_RUNS} settings overlaid, same seed and start point.")
        else:
            bar.caption(f"Pin this {what}, then move the sliders to overlay up to {MAX_RUNS} settings "
                         f"(same seed and start point).")
