"""steplab dashboard: `streamlit run app.py` (or `make dashboard`). Routes with st.navigation over app_pages/,
in three sections: Explore (the playground), Papers (one page per paper family) and About."""

import os
import time

import streamlit as st

from app_pages import keys, layout
from app_pages.ui import compute_threads, freeze_heap_once

st.set_page_config(page_title="steplab dashboard", page_icon="📉", layout="wide")
layout.apply()  # metrics wrap instead of being cut on a laptop screen

PAGES = {  # st.navigation sections
    "Explore": [
        st.Page("app_pages/playground.py", title="Playground", icon=":material/tune:", url_path="home", default=True),
        # the default page lives at "/"; this hidden twin makes `/playground?...` links work too
        st.Page("app_pages/playground.py", title="Playground", url_path="playground", visibility="hidden"),
    ],
    "Papers": [
        st.Page("app_pages/clipping.py", title="Clipping bias", icon=":material/content_cut:", url_path="clipping"),
        st.Page("app_pages/logistic.py", title="Large-step logistic regression", icon=":material/show_chart:",
                url_path="logistic"),
        st.Page("app_pages/diffusion.py", title="Heavy-ball diffusion sampling", icon=":material/blur_on:",
                url_path="diffusion"),
        st.Page("app_pages/rnn.py", title="RNN gradient clipping", icon=":material/landscape:", url_path="rnn"),
    ],
    "About": [st.Page("app_pages/about.py", title="About", icon=":material/info:", url_path="about")],
}

started = time.perf_counter()
page = st.navigation(PAGES)
with compute_threads():  # one CPU thread: the dashboard's tensors are small (see ui.compute_threads)
    if os.environ.get("STEPLAB_PROFILE"):  # developer aid: cProfile one page run into the given file
        import cProfile

        cProfile.runctx("page.run()", globals(), {"page": page}, os.environ["STEPLAB_PROFILE"])
    else:
        page.run()
# server time of this run (read by benchmarks/bench_app.py)
st.session_state[keys.SERVER_SECONDS] = time.perf_counter() - started
freeze_heap_once()  # Streamlit's gc.collect(2) after every run would scan torch/pandas/altair: see ui.freeze_heap_once
