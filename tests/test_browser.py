"""One real-browser test: `streamlit run app.py` on a free port, preset URLs in headless Debian Chromium.

Checks what a person would see (page title, a drawn chart, no exception box) and saves screenshots
under artifacts/ for a human to look at. Needs /usr/bin/chromium (``make browser-deps`` installs it
as root); Playwright's own browser download is not used.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from browser_support import CHROMIUM, CHROMIUM_ARGS, playwright_or_skip, streamlit_server

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts"
# (url path + query, text that must appear, screenshot name)
PRESETS = [
    ("playground?eta=0.05&method=heavy_ball&beta=0.8&steps=80", "Playground", "playground"),
    ("playground?eta=0.3", "diverged at step", "playground_diverged"),
    ("clipping", "Clipping", "clipping"),
    ("logistic", "logistic", "logistic"),
    ("diffusion", "diffusion", "diffusion"),
    ("rnn", "RNN", "rnn"),
    ("about", "About", "about"),
]

sync_api = playwright_or_skip()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with streamlit_server(tmp_path_factory.mktemp("streamlit") / "streamlit.log") as base:
        yield base


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def wait_for_app(page, charts_expected: bool, timeout_s: float = 90) -> None:
    """Wait until the script run finished: the app is mounted, nothing is stale, and the number of
    drawn charts has stopped changing for two seconds (Vega draws asynchronously)."""
    page.wait_for_selector('[data-testid="stMainBlockContainer"] h1', timeout=timeout_s * 1000)
    deadline, last, stable_since = time.time() + timeout_s, -1, time.time()
    while time.time() < deadline:
        charts = page.locator(".vega-embed canvas, .vega-embed svg").count()
        busy = page.locator('[data-stale="true"], [data-testid="stSpinner"], [data-testid="stSkeleton"]').count()
        if charts != last or busy or (charts_expected and charts == 0):
            last, stable_since = charts, time.time()
        elif time.time() - stable_since > 2.0:
            return
        page.wait_for_timeout(250)


@pytest.mark.parametrize("path,text,name", PRESETS)
def test_preset_url_renders_without_errors(server, browser, path, text, name):
    page = browser.new_page(viewport={"width": 1500, "height": 1300})
    page.goto(f"{server}/{path}", timeout=60000)
    wait_for_app(page, charts_expected=name != "about")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    assert page.title() == "steplab dashboard" or "steplab" in page.title()
    assert page.locator('[data-testid="stException"]').count() == 0, page.locator(
        '[data-testid="stException"]').first.inner_text()
    body = page.locator('[data-testid="stMain"]').inner_text()
    assert text.lower() in body.lower(), body[:500]
    if name != "about":
        assert page.locator(".vega-embed canvas, .vega-embed svg").count() >= 1, "no chart was drawn"
    page.close()


def test_clicking_the_cliff_surface_moves_the_start(server, browser):
    page = browser.new_page(viewport={"width": 1500, "height": 1300})
    page.goto(f"{server}/rnn?w0=5&b0=-2.3", timeout=60000)
    wait_for_app(page, charts_expected=True)
    box = page.locator(".vega-embed").first.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.5)
    deadline = time.time() + 30
    while time.time() < deadline and "w0=5&" in page.url:
        page.wait_for_timeout(250)
    assert "w0=5&" not in page.url and "b0=-2.3&" not in page.url, page.url  # the URL mirrors the new start
    wait_for_app(page, charts_expected=True)
    page.screenshot(path=str(ARTIFACTS / "rnn_clicked.png"), full_page=True)
    assert page.locator('[data-testid="stException"]').count() == 0
    page.close()


# what a laptop shows: 1000 x 700 with the sidebar open
# pages whose chart plays itself (app_pages.browser_player); the others have buttons
BROWSER_PLAYBACK = {"playground", "clipping", "logistic", "diffusion", "rnn"}
LAPTOP_PAGES = [("playground", "laptop_playground"), ("clipping", "laptop_clipping"), ("logistic", "laptop_logistic"),
                ("diffusion", "laptop_diffusion"), ("rnn", "laptop_rnn")]
# labels whose text is wider than their box (Streamlit then draws "P…" / "samples off th…")
CUT = """() => [...document.querySelectorAll('[data-testid="stMain"] button [data-testid="stMarkdownContainer"], '
                                          + '[data-testid="stMetric"] [data-testid="stMarkdownContainer"]')]
    .filter(e => { if (e.offsetParent === null) return false;
                   const text = document.createRange(); text.selectNodeContents(e);
                   return text.getBoundingClientRect().width > e.getBoundingClientRect().width + 1; })
    .map(e => e.innerText)"""


@pytest.mark.parametrize("path,name", LAPTOP_PAGES)
def test_laptop_viewport_cuts_no_button_or_metric(server, browser, path, name):
    page = browser.new_page(viewport={"width": 1000, "height": 700})
    page.goto(f"{server}/{path}", timeout=60000)
    wait_for_app(page, charts_expected=True)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
    assert page.locator('[data-testid="stException"]').count() == 0
    labels = page.locator('[data-testid="stMain"] button p').all_inner_texts()
    if path in BROWSER_PLAYBACK:  # the play button and the step counter drawn inside the chart, uncut
        assert page.locator(".vega-embed g.play path").count() == 1
        counter = page.locator(".vega-embed g.counter text")
        assert counter.count() == 1 and counter.text_content().startswith("step ")
    else:
        assert {"Play", "Pause", "Step", "Reset"} <= set(labels), labels
    assert page.evaluate(CUT) == []  # every label shown whole (Streamlit's default cuts them with "…")
    page.close()
