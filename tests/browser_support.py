"""What the real-browser tests share: Debian's Chromium, a free loopback port, and a server process started,
waited for and stopped.

tests/test_browser.py and tests/test_browser_player.py run ``streamlit run app.py`` (:func:`streamlit_server`),
tests/test_jupyterlab.py runs ``jupyter lab`` (:func:`serving`), and tests/test_cluster.py runs the cluster
launcher and waits for its "ready" line (:func:`wait_for`); every server is ended with :func:`stop`. A server that
exits or never answers fails the test with what the server wrote, so the reason is in the test report.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"  # Debian's package (`make browser-deps`); Playwright's own download is not used
# headless without a GPU or a sandbox (root in a container), and none of Chromium's own background traffic
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def playwright_or_skip():
    """Playwright's sync API, or a skip (of the whole module when called at import time) naming what is missing:
    Debian's chromium or the playwright package."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: run `make browser-deps` as root (apt-get install chromium)",
                    allow_module_level=True)
    return pytest.importorskip("playwright.sync_api", reason="the playwright Python package is not installed")


def free_port() -> int:
    """A loopback port no one listens on now (the OS picks it), so parallel runs do not collide on 8501."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(url: str) -> bool:
    """Whether ``url`` answers with a 2xx status (Streamlit's health check says 503 until it is ready)."""
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except OSError:  # refused, timed out, or an HTTP error status
        return False


def wait_for(ready: Callable[[], bool], timeout_s: float, process: subprocess.Popen, log: Path, what: str) -> None:
    """Poll ``ready()`` until it is true; fail the test with ``log`` (the server's output) if ``process`` exits
    first or ``timeout_s`` passes (then the process is stopped, so no server outlives a failed start)."""
    deadline = time.time() + timeout_s
    while not ready():
        if process.poll() is not None:
            pytest.fail(f"{what} exited with code {process.returncode}:\n{log.read_text(errors='replace')}")
        if time.time() > deadline:
            stop(process)
            pytest.fail(f"{what} was not ready in {timeout_s:.0f} s:\n{log.read_text(errors='replace')}")
        time.sleep(0.5)


def wait_until_healthy(url: str, timeout_s: float, process: subprocess.Popen, log: Path) -> None:
    """Wait until ``url`` (a health or status endpoint) answers; fail with the server's output if it dies or
    does not answer in ``timeout_s``."""
    wait_for(lambda: answers(url), timeout_s, process, log, f"the server behind {url}")


def stop(process: subprocess.Popen, timeout_s: float = 10) -> None:
    """SIGTERM, then SIGKILL if the process has not exited after ``timeout_s``."""
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextlib.contextmanager
def serving(command: list[str], log: Path, health_url: str, timeout_s: float = 90, **popen) -> Iterator[None]:
    """Run ``command`` (``popen``: cwd, env) with its output in ``log``; enter once ``health_url`` answers, and
    stop the server on exit, also when the test failed."""
    with open(log, "w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, **popen)
        try:
            wait_until_healthy(health_url, timeout_s, process, log)
            yield
        finally:
            stop(process)


@contextlib.contextmanager
def streamlit_server(log: Path, timeout_s: float = 90) -> Iterator[str]:
    """``streamlit run app.py`` on a free loopback port, headless, file watcher off (as the project's config),
    its output in ``log``; yields the base URL once /_stcore/health answers, and stops the server on exit."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, STREAMLIT_BROWSER_GATHER_USAGE_STATS="false")
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
               "--server.port", str(port), "--server.address", "127.0.0.1", "--server.fileWatcherType", "none"]
    with serving(command, log, f"{base}/_stcore/health", timeout_s, cwd=ROOT, env=env):
        yield base


def runs_finished(frames: list) -> int:
    """How many script runs the server has finished, among recorded WebSocket frames ``(direction, payload,
    ...)``: its ``script_finished`` ForwardMsgs (a run can pause for seconds without sending anything, e.g. on a
    cold cache, so silence does not tell that it is over)."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    count = 0
    for direction, payload, *_ in frames:
        if direction == "received" and isinstance(payload, (bytes, bytearray)):
            try:
                count += ForwardMsg.FromString(bytes(payload)).WhichOneof("type") == "script_finished"
            except Exception:  # not a ForwardMsg (never expected; counted as no run)
                continue
    return count


def wait_for_runs(page, frames: list, at_least: int, timeout_s: float = 60) -> None:
    """Wait (in the page's event loop) until ``at_least`` runs have finished, then a little for drawing."""
    deadline = time.time() + timeout_s
    while runs_finished(frames) < at_least:
        if time.time() > deadline:
            raise AssertionError(f"only {runs_finished(frames)} of {at_least} script runs finished in {timeout_s} s")
        page.wait_for_timeout(100)
    page.wait_for_timeout(300)
