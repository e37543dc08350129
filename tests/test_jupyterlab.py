"""The stored notebooks as a student first sees them: JupyterLab in a real browser, no kernel running.

Starts ``jupyter lab`` on a free loopback port with no kernel spec available (so nothing executes: what shows
is what the .ipynb stores), opens every stored notebook in headless Debian Chromium and checks what a reader
meets before running anything: every stored figure is drawn, each "Try it" (ipywidgets ``interact``) cell
shows its initial picture instead of the raw text ``interactive(children=(FloatSlider(…``, no stderr box
(a warning) is shown, and the closing claims table is an HTML table. Screenshots go to artifacts/jupyterlab/.
Skips without /usr/bin/chromium or playwright, like tests/test_browser.py.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import nbformat
import pytest
from browser_support import CHROMIUM, CHROMIUM_ARGS, free_port, playwright_or_skip, serving

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
ARTIFACTS = ROOT / "artifacts" / "jupyterlab"
STORED = sorted(p.relative_to(NOTEBOOKS).as_posix() for p in NOTEBOOKS.rglob("*.ipynb")
                if ".ipynb_checkpoints" not in p.parts)
NOTEBOOK = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook"  # the notebook in the visible tab
STDERR = '[data-mime-type="application/vnd.jupyter.stderr"]'

sync_api = playwright_or_skip()
pytest.importorskip("jupyterlab", reason="jupyterlab is not installed (pip install 'steplab[notebooks]')")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab serving notebooks/, with its own (empty) settings, workspaces and kernel specs."""
    home = tmp_path_factory.mktemp("lab")
    settings = home / "settings" / "@jupyterlab"
    # every cell in the DOM (no virtual scrolling), no news/update toasts over the notebook
    (settings / "notebook-extension").mkdir(parents=True)
    (settings / "notebook-extension" / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    (settings / "apputils-extension").mkdir(parents=True)
    (settings / "apputils-extension" / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    port = free_port()
    command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
               f"--ServerApp.root_dir={NOTEBOOKS}", "--IdentityProvider.token=", "--ServerApp.password=",
               "--ServerApp.disable_check_xsrf=True", "--allow-root", "--ServerApp.terminals_enabled=False",
               f"--LabApp.user_settings_dir={home / 'settings'}",
               f"--LabApp.workspaces_dir={home / 'workspaces'}",
               "--KernelSpecManager.allowed_kernelspecs=__no_kernel__"]  # nothing can start: stored outputs only
    env = dict(os.environ, HOME=str(home), JUPYTER_CONFIG_DIR=str(home / "config"),
               JUPYTER_DATA_DIR=str(home / "data"), JUPYTER_RUNTIME_DIR=str(home / "runtime"))
    base = f"http://127.0.0.1:{port}"
    with serving(command, home / "lab.log", f"{base}/api/status", cwd=NOTEBOOKS, env=env):
        yield base


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})  # one HTTP cache for every page
        yield context
        context.close()
        browser.close()


def try_it_cells(nb) -> list[int]:
    """Indices (among all cells) of the "Try it" cells: code cells that call ipywidgets' interact."""
    return [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code" and "interact(" in cell.source]


def stored_images(nb) -> int:
    return sum("image/png" in out.get("data", {}) for cell in nb.cells if cell.cell_type == "code"
               for out in cell.outputs)


def dismiss_kernel_dialog(page) -> bool:
    """Answer JupyterLab's "Select Kernel" dialog (no kernel spec is allowed) with "No Kernel"."""
    dialog = page.locator(".jp-Dialog")
    if not dialog.count():
        return False
    no_kernel = dialog.get_by_role("button", name="No Kernel")
    (no_kernel.first.click() if no_kernel.count() else page.keyboard.press("Escape"))
    return True


def open_notebook(page, base: str, name: str, cells: int, images: int, timeout_s: float = 60) -> None:
    """Open ``name``, answer the kernel dialog with "No Kernel", and wait until every cell and every stored image
    is in the DOM and decoded."""
    page.goto(f"{base}/lab/tree/{name}?reset", timeout=timeout_s * 1000)  # ?reset: only this notebook open
    page.wait_for_selector(f"{NOTEBOOK} .jp-Cell", timeout=timeout_s * 1000)
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        dismiss_kernel_dialog(page)
        drawn = page.evaluate(
            f"() => [...document.querySelectorAll('{NOTEBOOK} .jp-OutputArea-output img')]"
            ".filter(img => img.complete && img.naturalWidth > 0).length")
        if page.locator(f"{NOTEBOOK} .jp-Cell").count() >= cells and drawn >= images:
            for _ in range(20):  # the dialog comes once the session is set up, often after the cells
                if dismiss_kernel_dialog(page):
                    break
                page.wait_for_timeout(100)
            return
        page.wait_for_timeout(250)
    raise AssertionError(f"{name}: not rendered in {timeout_s:.0f} s ({drawn}/{images} images drawn)")


@pytest.mark.parametrize("name", STORED)
def test_stored_notebook_reads_without_a_kernel(lab, browser, name):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    page = browser.new_page()
    try:
        open_notebook(page, lab, name, len(nb.cells), stored_images(nb))
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / (name.replace("/", "_") + ".png")))
        text = page.locator(NOTEBOOK).inner_text()
        assert "interactive(children=" not in text, f"{name}: a Try-it cell shows the widget's raw text"
        stderr = page.locator(f"{NOTEBOOK} {STDERR}")
        assert stderr.count() == 0, f"{name}: a stderr box is shown: {stderr.first.inner_text()[:300]}"
        if any(cell.cell_type == "code" and "claims.table(" in cell.source for cell in nb.cells):
            assert page.locator(f"{NOTEBOOK} table.steplab-claims").count() == 1, f"{name}: no HTML claims table"
        dom_cells = page.locator(f"{NOTEBOOK} .jp-Cell")
        for index in try_it_cells(nb):
            images = dom_cells.nth(index).locator(".jp-OutputArea-output img")
            assert images.count() >= 1, f"{name}: Try-it cell {index} shows no picture before running"
            width = images.first.evaluate("img => img.naturalWidth")
            assert width > 100, f"{name}: Try-it cell {index}'s picture is {width} px wide"
            dom_cells.nth(index).screenshot(path=str(ARTIFACTS / f"{name.replace('/', '_')}.try_it_{index}.png"))
    finally:
        page.close()
