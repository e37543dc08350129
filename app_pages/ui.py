"""Small pieces every page uses: the compute device, its thread setting and the page's compute clock (the
caption "computed on cuda:0 (…) in 14 ms"), number formatting, the "Reproduce in a notebook" box."""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import streamlit as st
import torch

from app_pages import keys
from steplab.device import cpu_threads, default_device, describe_device

# Closed-form theory curves and post-processing of arrays already drawn (tens of numbers) are evaluated on the
# CPU, where they are drawn: the pages' one deliberate CPU choice (the theory functions never meet a device tensor).
THEORY = torch.device("cpu")


def device() -> torch.device:
    """The torch device the pages compute on: ``steplab.device.default_device()`` (CUDA when present,
    ``STEPLAB_DEVICE`` overrides). Read on every run, so that the override applies to a running server's
    next rerun; results move to the CPU only to be drawn."""
    return default_device()


_FROZEN = []  # set once per server process (this module is imported once; page scripts are re-executed)


def freeze_heap_once() -> bool:
    """Move every object alive after the first run (torch, pandas, altair, the cached specs: ~380k objects) to
    the garbage collector's permanent generation, once per process; True the first time.

    Why: after every script run Streamlit calls ``gc.collect(2)`` (``runner.postScriptGC``, on by default), which
    walks the whole heap: 220-260 ms of CPU per rerun on every page here, holding the GIL while the run's last
    message waits (benchmarks/bench_redraw_breakdown.py; AppTest's runner skips that call, so bench_app did not
    see it). Frozen objects are skipped; what the runs create later is still collected (1-7 ms per run).
    """
    if _FROZEN:
        return False
    gc.collect()
    gc.freeze()
    _FROZEN.append(True)
    return True


def compute_threads():
    """Run the dashboard's CPU work on one torch thread (restored afterwards); no-op on CUDA.

    Its tensors are tiny (2-D paths, a few hundred chains), where intra-op threads only add
    synchronisation; on a busy shared CPU two threads made one RK4 reference 25x slower (6 s vs 0.24 s).
    """
    return cpu_threads(1 if device().type == "cpu" else None)


def synchronize(where: torch.device | None = None) -> None:
    """Wait for the device's queued kernels (CUDA launches return before the work is done); no-op on the CPU."""
    where = where or device()
    if where.type == "cuda":
        torch.cuda.synchronize(where)


@dataclass
class Clock:
    """The compute time of one page run (or one playback frame) on :func:`device`, summed over the
    :meth:`measure` blocks; ``slot`` is where its caption goes (an ``st.empty()`` under the page's title)."""

    seconds: float = 0.0
    blocks: int = 0
    slot: Any = None
    where: torch.device | None = None

    @contextmanager
    def measure(self) -> Iterator[None]:
        """Time the block, synchronising CUDA before each clock reading (so the kernels' time is counted)."""
        where = self.where or device()
        synchronize(where)
        start = time.perf_counter()
        try:
            yield
        finally:
            synchronize(where)
            self.seconds += time.perf_counter() - start
            self.blocks += 1

    def text(self, what: str = "this view") -> str:
        """``'this view computed on cpu in 14 ms'`` (the device described by ``steplab.device``)."""
        return f"{what} computed on **{describe_device(self.where or device())}** in {1000 * self.seconds:.0f} ms"

    def show(self, what: str = "this view") -> None:
        """Write :meth:`text` into the page's caption slot (once the page's compute is done)."""
        (self.slot or st).caption(self.text(what))


def page_clock(page: str) -> Clock:
    """A fresh clock for this run of ``page``, with its caption slot here (call it under the page's title);
    :func:`measure` adds to it until a playback frame installs its own (:func:`frame_clock`)."""
    clock = Clock(slot=st.empty(), where=device())
    st.session_state[keys.clock(page)] = clock
    return clock


@contextmanager
def frame_clock(page: str) -> Iterator[Clock]:
    """The clock of one playback frame (a fragment rerun): :func:`measure` adds to it inside the block."""
    previous = st.session_state.get(keys.clock(page))
    clock = Clock(where=device())
    st.session_state[keys.clock(page)] = clock
    try:
        yield clock
    finally:
        st.session_state[keys.clock(page)] = previous if previous is not None else clock


@contextmanager
def measure(page: str) -> Iterator[None]:
    """Time the block on ``page``'s current clock (the run's or the playing frame's)."""
    clock = st.session_state.get(keys.clock(page))
    if clock is None:
        clock = st.session_state[keys.clock(page)] = Clock(where=device())
    with clock.measure():
        yield


def fmt(value: float) -> str:
    """Readout formatting that never shows 'nan' without saying so."""
    if value is None or not np.isfinite(value):
        return "overflow"
    return f"{value:.3g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.2e}"


def reproduce_expander(code: str, note: str = "") -> None:
    with st.expander("Reproduce in a notebook", icon=":material/code:"):
        st.caption("These lines of `steplab` compute exactly this view (same seed, parameters and method)."
                   + (" " + note if note else ""))
        st.code(code, language="python")
