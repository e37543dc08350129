"""About: device in use, versions, notebooks, and a button that runs the registered paper claims."""

from __future__ import annotations

import platform

import pandas as pd
import streamlit as st

from app_pages.ui import device
from steplab import claims
from steplab.device import describe_device

NOTEBOOKS = {
    "00_tour.ipynb": "Library tour: GD vs heavy ball on an ill-conditioned quadratic",
    "01_clipping_bias.ipynb": "Clipped SGD: the bias floor (Koloskova et al. 2023)",
    "02_large_step_logistic.ipynb": "Large-step GD on logistic regression",
    "03_heavy_ball_diffusion.ipynb": "Heavy-ball samplers for diffusion models",
    "04_rnn_gradient_clipping.ipynb": "Gradient clipping on an RNN's cliff (Pascanu et al. 2013)",
}


def versions() -> pd.DataFrame:
    import altair
    import numpy
    import torch

    rows = [("Python", platform.python_version()), ("torch", torch.__version__), ("numpy", numpy.__version__),
            ("streamlit", st.__version__), ("altair", altair.__version__)]
    return pd.DataFrame(rows, columns=["package", "version"])


def outcome_rows(outcomes) -> pd.DataFrame:
    return pd.DataFrame([{"": claims.mark(o), "claim": o.claim.id, "paper": o.claim.paper,
                          "statement": o.claim.statement, "expected": o.result.expected,
                          "measured": o.result.measured, "seconds": round(o.seconds, 2)} for o in outcomes])


st.title("About steplab")
st.markdown("Teaching notebooks, this dashboard and a small batched PyTorch library (`steplab`) that reproduce "
            "results on step sizes, momentum and gradient clipping. Every number a notebook states is a "
            "registered *claim* that the test suite re-checks; you can run them here too.")
left, right = st.columns(2)
with left:
    st.subheader("Where it runs")
    st.markdown(f"Device in use: **{describe_device(device())}** (set `STEPLAB_DEVICE` to override).")
    st.dataframe(versions(), hide_index=True, width="stretch")
with right:
    st.subheader("Notebooks")
    st.markdown("\n".join(f"- `notebooks/{name}` — {text}" for name, text in NOTEBOOKS.items()))
    st.caption("Open them with `make lab`; each ends with its family's claims table.")

st.subheader("Paper claims")
families = claims.load()
family = st.selectbox("Which claims", ["all", *families], key="about.family",
                      help="Families whose library module is not built yet are not listed.")
if st.button("Run the claims", type="primary", key="about.run"):
    bar = st.progress(0.0, text="starting…")

    def on_progress(i, n, claim):
        bar.progress(i / max(n, 1), text=f"{i + 1}/{n}: {claim.id}")

    outcomes = claims.run_all(None if family == "all" else family, on_progress=on_progress)
    bar.progress(1.0, text=f"done: {claims.summary(outcomes)}")
    st.session_state["about.outcomes"] = outcomes
if "about.outcomes" in st.session_state:
    outcomes = st.session_state["about.outcomes"]
    failed = any(not o.result.passed for o in outcomes)
    (st.error if failed else st.success)(f"{claims.summary(outcomes)} on this machine")
    st.dataframe(outcome_rows(outcomes), hide_index=True, width="stretch")
