"""Small pieces every page uses: the compute device and its thread setting, number formatting, the
"Reproduce in a notebook" box."""

from __future__ import annotations

import numpy as np
import streamlit as st
import torch

from steplab.device import cpu_threads, default_device, describe_device


@st.cache_resource
def device() -> torch.device:
    """The torch device for the dashboard (CUDA when present), shared by all sessions."""
    return default_device()


def compute_threads():
    """Run the dashboard's CPU work on one torch thread (restored afterwards); no-op on CUDA.

    Its tensors are tiny (2-D paths, a few hundred chains), where intra-op threads only add
    synchronisation; on a busy shared CPU two threads made one RK4 reference 25x slower (6 s vs 0.24 s).
    """
    return cpu_threads(1 if device().type == "cpu" else None)


def device_caption() -> str:
    return f"computing on **{describe_device(device())}**"


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
