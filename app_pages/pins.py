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
from app_pages.controls import Controls

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
            parts = [p.strip() for p in ctl.url.get("pins", "").split(";") if p.strip()]
            try:
                st.session_state[self.key] = [parse(part) for part in parts][: MAX_RUNS - 1]
            except ValueError as error:
                message = f"`pins`: {error}; no pinned runs."
                st.session_state.setdefault(keys.warnings(self.page), []).append(message)
                st.warning("Invalid link parameter " + message, icon=":material/warning:")

    @property
    def values(self) -> list:
        return list(st.session_state[self.key])

    def param(self) -> str:
        return ";".join(self.format(pin) for pin in st.session_state[self.key])

    def buttons(self, current: Any, what: str = "run") -> None:
        """'Pin for comparison' (adds ``current``; at most MAX_RUNS - 1 pins, then says so) and 'Clear pins'."""
        pins = st.session_state[self.key]
        full = len(pins) >= MAX_RUNS - 1
        b1, b2, note = st.columns([1, 1, 3], vertical_alignment="center")
        if b1.button("Pin for comparison", icon=":material/push_pin:", disabled=full,
                     key=keys.widget(self.page, "pin"),
                     help=f"Keep this {what} on the charts; then move the sliders to compare (same seed and start)."):
            if len(pins) < MAX_RUNS - 1:
                st.session_state[self.key] = pins + [current]
                st.rerun()
        if b2.button("Clear pins", icon=":material/close:", disabled=not pins, key=keys.widget(self.page, "unpin")):
            st.session_state[self.key] = []
            st.rerun()
        if full:
            note.caption(f"{len(pins)} settings pinned besides this one, the most a page overlays ({MAX_RUNS}): "
                         f"clear the pins to pin another.")
        elif pins:
            note.caption(f"{1 + len(pins)} of at most {MAX_RUNS} settings overlaid, same seed and start point.")
        else:
            note.caption(f"Pin this {what}, then move the sliders to overlay up to {MAX_RUNS} settings "
                         f"(same seed and start point).")
