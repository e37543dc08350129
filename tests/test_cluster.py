"""`make dashboard-cluster`: two Streamlit workers behind haproxy on loopback, four browser sessions through it.

Checks that every session is served (the page renders through the balancer), that the sessions are spread over
both workers, and that each stays on its worker: haproxy names the worker in an ``X-Steplab-Worker`` header and in
its request log, and each worker counts its own Streamlit sessions (``/_stcore/metrics``). Then haproxy drops
every websocket (its runtime API, ``shutdown sessions``): each browser reconnects, and must land on the same worker
and resume its session (the worker counts a reconnect, not a new session; the session's widget value survives).
Finally SIGTERM to the launcher must leave no process behind. Needs haproxy (``make haproxy-deps``), Debian's
chromium (``make browser-deps``) and the playwright package; skips with the reason otherwise.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from browser_support import CHROMIUM, CHROMIUM_ARGS, free_port, playwright_or_skip, wait_for

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools" / "cluster"))
import launch  # noqa: E402

pytestmark = pytest.mark.browser

SESSIONS = 4
MAIN = '[data-testid="stMainBlockContainer"]'


def test_launcher_refuses_bad_input(monkeypatch, tmp_path):
    with pytest.raises(ValueError, match="workers must be at least 1"):
        launch.Cluster(0, 8501, "127.0.0.1", tmp_path, None)
    monkeypatch.setattr(launch.shutil, "which", lambda _: None)
    with pytest.raises(FileNotFoundError, match="make haproxy-deps"):
        launch.Cluster(2, 8501, "127.0.0.1", tmp_path, None)


def test_rendered_config_names_every_worker_and_sticks_by_cookie(tmp_path):
    text = launch.render_config("127.0.0.1", 8501, [9001, 9002, 9003], tmp_path / "haproxy.sock")
    assert re.findall(r"server (w\d) 127\.0\.0\.1:(\d+) .*cookie (w\d)", text) == [
        ("w1", "9001", "w1"), ("w2", "9002", "w2"), ("w3", "9003", "w3")]
    assert "cookie steplab_worker insert" in text and "bind 127.0.0.1:8501" in text
    if shutil.which("haproxy"):
        (tmp_path / "haproxy.cfg").write_text(text)
        check = subprocess.run(["haproxy", "-c", "-f", str(tmp_path / "haproxy.cfg")], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr


def session_pids(sid: int) -> list[int]:
    pids = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            fields = Path(stat).read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] != "Z":  # fields[3] is the session id
            pids.append(int(stat.split("/")[2]))
    return pids


def metrics(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/metrics", timeout=5) as response:
        text = response.read().decode()
    return {key: float(value) for key, value in re.findall(
        r'^(active_sessions|session_events_total\{type="\w+"\}) (\S+)$', text, re.M)}


def admin(sock: Path, command: str) -> str:
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(str(sock))
        s.sendall(command.encode() + b"\n")
        return b"".join(iter(lambda: s.recv(65536), b"")).decode()


def inotify_watches(pid: int) -> int:
    count = 0
    for info in glob.glob(f"/proc/{pid}/fdinfo/*"):
        try:
            count += sum(line.startswith("inotify wd:") for line in Path(info).read_text().splitlines())
        except OSError:
            pass
    return count


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    if shutil.which("haproxy") is None:
        pytest.skip("haproxy is missing: run `make haproxy-deps` as root (apt-get install haproxy)")
    log_dir = tmp_path_factory.mktemp("cluster")
    port, launcher_out = free_port(), log_dir / "launcher.out"
    out = open(launcher_out, "w")  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, str(ROOT / "tools" / "cluster" / "launch.py"), "--workers", "2",
                             "--port", str(port), "--address", "127.0.0.1", "--log-dir", str(log_dir)],
                            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    wait_for(lambda: "ready:" in launcher_out.read_text(), 120, proc, launcher_out, "the cluster launcher")
    ready = launcher_out.read_text()
    workers = {name: int(p) for name, p in re.findall(r"(w\d)=127\.0\.0\.1:(\d+)", ready)}
    info = {"url": f"http://127.0.0.1:{port}", "workers": workers, "log_dir": log_dir, "proc": proc}
    try:
        yield info
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pass
        leftovers = session_pids(proc.pid)
        if leftovers:
            os.killpg(proc.pid, signal.SIGKILL)
        out.close()
        assert not leftovers, f"processes left after SIGTERM to the launcher: {leftovers}"


@pytest.fixture(scope="module")
def sync_api():
    return playwright_or_skip()


def test_sessions_are_served_spread_and_sticky(sync_api, cluster):  # sync_api first: skip before starting
    url, workers = cluster["url"], cluster["workers"]
    assert sorted(workers) == ["w1", "w2"] and len(set(workers.values())) == 2
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            served_by, pages = {}, {}
            for i in range(SESSIONS):  # one context per student: its own cookie jar
                context = browser.new_context(viewport={"width": 1200, "height": 900})
                context.add_cookies([{"name": "steplab_probe", "value": f"s{i}", "url": url}])
                page = context.new_page()
                response = page.goto(f"{url}/about", timeout=60000)
                served_by[f"s{i}"], pages[f"s{i}"] = response.headers.get("x-steplab-worker"), page
            for page in pages.values():  # every session is served: the page renders through the balancer
                page.wait_for_selector(f"{MAIN} h1", timeout=60000)
                assert "About steplab" in page.locator(f"{MAIN} h1").first.inner_text()
                assert page.locator('[data-testid="stException"]').count() == 0
            assert set(served_by.values()) == {"w1", "w2"}, served_by  # spread over both workers
            expected = {w: list(served_by.values()).count(w) for w in workers}
            wait_until(lambda: {w: metrics(p).get("active_sessions") for w, p in workers.items()} == expected,
                       "each worker to hold the sessions haproxy sent it", expected)
            # item 6: the workers run with the project's config, file watcher off (no inotify watches)
            for p in session_pids(cluster["proc"].pid):
                assert inotify_watches(p) == 0, f"process {p} watches files (fileWatcherType should be none)"

            # a rerun with session state: choose a claim family in one session per worker
            chosen = {probe: page for probe, page in pages.items() if probe in ("s0", "s1")}
            for page in chosen.values():
                page.get_by_test_id("stSelectbox").locator("input").click()
                page.get_by_role("option", name="clipping", exact=True).click()
            def chosen_and_rerun(page) -> bool:
                return (page.get_by_test_id("stSelectbox").locator("input").input_value() == "clipping"
                        and page.locator('[data-stale="true"]').count() == 0)

            for page in chosen.values():
                wait_until(lambda page=page: chosen_and_rerun(page), "the rerun after the choice")

            # reconnect: haproxy drops every connection; each browser must come back to its own worker
            before = {w: metrics(p) for w, p in workers.items()}
            sock = cluster["log_dir"] / "haproxy.sock"
            for w in workers:
                admin(sock, f"shutdown sessions server streamlit/{w}")
            key = 'session_events_total{type="reconnect"}'
            wait_until(lambda: all(metrics(p)[key] - before[w][key] == expected[w] for w, p in workers.items()),
                       "every session to reconnect to its worker", expected)
            for w, p in workers.items():  # resumed, not a fresh session
                now = metrics(p)
                assert now['session_events_total{type="connect"}'] == before[w]['session_events_total{type="connect"}']
                assert now["active_sessions"] == expected[w]
            for page in chosen.values():  # the session's state survived the reconnect
                assert page.get_by_test_id("stSelectbox").locator("input").input_value() == "clipping"

            # a reload (a new page load with the cookie) stays on the worker too
            for probe in ("s2", "s3"):
                response = pages[probe].reload(timeout=60000)
                assert response.headers.get("x-steplab-worker") == served_by[probe]
                pages[probe].wait_for_selector(f"{MAIN} h1", timeout=60000)
        finally:
            browser.close()
    # haproxy's log: every request of a session, websockets and reconnects included, went to its first worker
    log = (cluster["log_dir"] / "haproxy.log").read_text()
    routed = re.findall(r"GET (\S+) (\d+) streamlit/(w\d) worker_cookie=\S+ probe=(s\d)", log)
    streams = [(probe, worker) for path, status, worker, probe in routed if path == "/_stcore/stream"]
    assert len(streams) >= SESSIONS + sum(expected.values()), streams  # first websockets + one reconnect each
    assert all(worker == served_by[probe] for _, _, worker, probe in routed), routed


def wait_until(condition, what: str, detail: object = "", timeout_s: float = 45) -> None:
    deadline = time.time() + timeout_s
    while not condition():
        if time.time() > deadline:
            pytest.fail(f"timed out waiting for {what} {detail}")
        time.sleep(0.25)
