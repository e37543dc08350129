"""Layout rules for a laptop screen (1000 × 700 px with the sidebar open): what Streamlit's defaults cut.

Streamlit draws a metric's label and value on one line and cuts them with "…" when the column is
narrower (four metrics in half of a 1000 px window: "samples off th…", "500 / …"). :func:`apply` lets
them wrap instead and scales the value's font with the window, once per script run (a ``<style>``
element only, which Streamlit adds without taking space on the page).
"""

from __future__ import annotations

import streamlit as st

CSS = """
<style>
[data-testid="stMetric"] [data-testid="stMarkdownContainer"],
[data-testid="stMetric"] [data-testid="stMarkdownContainer"] p {
  white-space: normal; overflow: visible; text-overflow: clip; overflow-wrap: anywhere;
}
[data-testid="stMetricValue"] { font-size: clamp(1.2rem, 2.4vw, 2.25rem); line-height: 1.2; }
</style>
"""


def apply() -> None:
    """Add the rules above to this page (call once per script run, before the page draws)."""
    st.html(CSS)
