"""The dashboard in a real browser (headless Chromium): slider -> redraw, playback, server CPU, many sessions.

    .venv/bin/python benchmarks/bench_browser.py                  # per page, then 30 sessions on one server
    .venv/bin/python benchmarks/bench_browser.py --sessions 10 --skip-pages
    .venv/bin/python benchmarks/bench_browser.py --sessions 30 --cluster 2 --skip-pages   # through haproxy

Everything is timed on the browser's clock by a script injected before the app loads: it wraps the page's
WebSocket (the time and size of every message, and the status of each ``script_finished`` read from the
ForwardMsg bytes), records the time of every key press, and marks every "visual change": a DOM mutation in the
main area, or changed pixels in a chart canvas (thumbnails compared on each animation frame).

Per page (one session, not playing): a slider is moved by one keyboard step, alternately right and left.
*slider -> redraw* = key press -> the last visual change before 1.5 s of quiet; *server* = the rerun message the
browser sends -> the full run's ``script_finished`` arriving (server time + loopback); *payload* = bytes received
for that rerun. *Playback*: after pressing play (the chart's own button where the page plays in the browser, else
the server player's Reset and Play), animation frames with a visual change per second over 5 s, the steps the
chart's counter advanced, the WebSocket messages, and the server processes' CPU (from /proc) over the same 5 s,
as a share of one core.

Concurrency: N browser contexts (own cookies, so the balancer spreads them) on the Playground, all playing; each
moves the eta slider every 5 s (staggered). *slider -> rerun delivered* = key press -> that full run's
``script_finished`` arriving (drawing comes on top; the per-page table shows how much). A change with no full
run finished within 30 s counts as not delivered. Errors: exception boxes, page errors, closed websockets,
pages that failed to load. Targets (issue 20): redraw <= 500 ms in the browser and <= 200 ms on the server,
playback >= 24 fps, <= 5 % of a core while playing, 30 sessions with p95 <= 2 s and no errors.
Results go to docs/benchmarks.md (sections "browser" and "browser-concurrency"; rows of other N are kept).
"""

from __future__ import annotations

import argparse
import collections
import datetime
import os
import re
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "benchmarks"), str(ROOT / "tools" / "cluster")]
import launch  # noqa: E402
from report import DOC, write_section  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-timer-throttling",
        "--disable-renderer-backgrounding", "--disable-backgrounding-occluded-windows", "--no-first-run"]
# page -> the slider moved (its widget key, as in benchmarks/bench_app.py)
SLIDERS = {"playground": "playground.eta", "clipping": "clipping.c", "logistic": "logistic.gamma_max",
           "diffusion": "diffusion.guidance", "rnn": "rnn.eta"}
MOVES, QUIET_MS, TIMEOUT_MS, PLAY_S = 5, 1500, 30000, 5.0
# the playback measurement's run where a page plays in the browser: at 24 frames/s it lasts longer than 1 s + PLAY_S
LONG_RUNS = {"playground": "?steps=500", "clipping": "?steps=1000", "logistic": "?steps=500",
             "diffusion": "?steps=50", "rnn": "?steps=500"}
WINDOW_S = {"diffusion": 1.2}  # 50 frames last 2.1 s at 24 frames/s: a shorter window (default PLAY_S)
CLK_TCK = os.sysconf("SC_CLK_TCK")
INSTRUMENT = Path(__file__).with_name("bench_browser.js").read_text()


def key_class(key: str) -> str:
    return ".st-key-" + key.replace(".", "-")


def finished_codes() -> dict:
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
    return {"FIELD": ForwardMsg.DESCRIPTOR.fields_by_name["script_finished"].number,
            "FULL": ForwardMsg.FINISHED_SUCCESSFULLY, "FRAGMENT": ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY}


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime + stime, in clock ticks
        except (OSError, IndexError):
            pass
    return total / CLK_TCK


def load() -> float:
    return os.getloadavg()[0]


class Server:
    """One `streamlit run app.py`, or `workers` of them behind haproxy (tools/cluster/launch.py)."""

    def __init__(self, workers: int):
        self.workers, self.cluster, self.proc = workers, None, None

    def __enter__(self):
        if self.workers:
            self.cluster = launch.Cluster(self.workers, launch.free_port(), "127.0.0.1",
                                          ROOT / "artifacts" / "bench_cluster", None)
            self.cluster.start()
            self.url = self.cluster.url
            self.pids = [p.pid for _, p in self.cluster.children]  # the workers and haproxy
            return self
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
                                      "--server.port", str(port), "--server.address", "127.0.0.1"],
                                     cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.url, self.pids = f"http://127.0.0.1:{port}", [self.proc.pid]
        deadline = time.time() + 120
        while not launch.healthy(self.url):
            if time.time() > deadline or self.proc.poll() is not None:
                raise RuntimeError("streamlit did not become healthy")
            time.sleep(0.5)
        return self

    def __exit__(self, *_):
        if self.cluster:
            self.cluster.stop()
        elif self.proc:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def open_page(browser, url: str, page_name: str, timeout_s: float = 120, wait: bool = True, query: str = ""):
    context = browser.new_context(viewport={"width": 1500, "height": 1100})
    context.add_init_script(INSTRUMENT.replace("__CODES__", repr(finished_codes()).replace("'", '"')))
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.goto(f"{url}/{page_name}{query}", timeout=timeout_s * 1000, wait_until="commit")
    if wait:
        wait_rendered(page, page_name, timeout_s)
    return page


def wait_rendered(page, page_name: str, timeout_s: float = 120) -> None:
    page.wait_for_selector(f"{key_class(SLIDERS[page_name])} input[type=range]", timeout=timeout_s * 1000)
    page.evaluate(f"() => window.__bench.settle(performance.now(), {QUIET_MS}, {TIMEOUT_MS}, false)")


def move_slider(page, page_name: str, i: int) -> None:
    """One keyboard step on the page's slider, right on even i, left on odd (focus by script: no waiting for
    Playwright's actionability checks while the page redraws)."""
    page.evaluate("selector => document.querySelector(selector).focus()",
                  f"{key_class(SLIDERS[page_name])} input[type=range]")
    page.keyboard.press("ArrowRight" if i % 2 == 0 else "ArrowLeft")


def bench_page(browser, server: Server, page_name: str) -> dict:
    page = open_page(browser, server.url, page_name, timeout_s=240)
    move_slider(page, page_name, 0)  # warm-up
    page.evaluate(f"() => window.__bench.settle(window.__bench.keys.at(-1), {QUIET_MS}, {TIMEOUT_MS}, true)")
    redraw, server_ms, payload, cpu_ms = [], [], [], []
    load_before = load()
    for i in range(1, MOVES + 1):
        cpu0 = cpu_seconds(server.pids)
        move_slider(page, page_name, i)
        r = page.evaluate(f"() => window.__bench.settle(window.__bench.keys.at(-1), {QUIET_MS}, {TIMEOUT_MS}, true)")
        cpu_ms.append(1000 * (cpu_seconds(server.pids) - cpu0))
        if r["finished"] is None:
            raise RuntimeError(f"{page_name}: no full run finished within {TIMEOUT_MS} ms of a slider move")
        redraw.append(r["visual"] - r["key"])
        server_ms.append(r["finished"] - r["sent"])
        payload.append(r["bytes"] / 1e3)
    if page.locator(PLAYER).count():  # playback in the browser: a run long enough to play for the whole window
        page.context.close()
        page = open_page(browser, server.url, page_name, timeout_s=240, query=LONG_RUNS.get(page_name, ""))
    in_browser = play(page, page_name)
    window_s = WINDOW_S.get(page_name, PLAY_S) if in_browser else PLAY_S
    page.wait_for_timeout(200 if in_browser else 1000)
    cpu0, t0 = cpu_seconds(server.pids), time.perf_counter()
    step0 = chart_step(page) if in_browser else None
    frames = page.evaluate(f"() => window.__bench.countFrames({window_s * 1000})")
    cpu = (cpu_seconds(server.pids) - cpu0) / (time.perf_counter() - t0)
    steps_per_s = (chart_step(page) - step0) / window_s if in_browser else None
    pause(page, page_name, in_browser)
    errors = page.locator('[data-testid="stException"]').count() + len(page.errors)
    page.context.close()
    return {"redraw": statistics.median(redraw), "worst": max(redraw), "server": statistics.median(server_ms),
            "server_cpu": statistics.median(cpu_ms),
            "kb": statistics.median(payload), "fps": frames["frames"] / window_s,
            "reruns": frames["fragmentRuns"] / window_s, "messages": frames["messages"] / window_s,
            "player": "browser" if in_browser else "server",
            "steps": steps_per_s, "cpu": cpu, "errors": errors, "load": (load_before + load()) / 2}


PLAYER = ".vega-embed g.play path"  # the play button a chart that plays itself draws (app_pages.browser_player)
COUNTER = ".vega-embed g.counter text"


def chart_step(page) -> int:
    return int(re.search(r"step (\d+)", page.text_content(COUNTER)).group(1))


def play(page, page_name: str) -> bool:
    """Start playback from step 0: the chart's own play button (True) or the server player's Reset and Play."""
    if page.locator(PLAYER).count():
        page.locator(PLAYER).click(force=True)  # a run shown whole restarts from step 0 when played
        page.wait_for_timeout(500)  # the play report's rerun (a playing chart never goes quiet: no settle)
        return True
    page.locator(f"{key_class(page_name + '.reset')} button").click()
    page.evaluate(f"() => window.__bench.settle(performance.now(), {QUIET_MS}, {TIMEOUT_MS}, false)")
    page.locator(f"{key_class(page_name + '.play')} button").click()
    return False


def pause(page, page_name: str, in_browser: bool) -> None:
    if in_browser:
        if "playing" in page.locator(COUNTER).text_content():
            page.locator(PLAYER).click(force=True)
    else:
        page.locator(f"{key_class(page_name + '.pause')} button").click()


def bench_concurrency(browser, server: Server, sessions: int, duration_s: float, every_s: float = 5.0) -> dict:
    load0, kinds = load(), collections.Counter()
    pages = [open_page(browser, server.url, "playground", wait=False) for _ in range(sessions)]  # all at once
    loaded = []
    for page in pages:
        try:
            wait_rendered(page, "playground", timeout_s=240)
            loaded.append(page)
        except Exception as error:  # a page that does not load is an error of the run, not of the benchmark
            print(f"  a session failed to load: {error}".splitlines()[0], flush=True)
            kinds["did not load"] += 1
    print(f"  {len(loaded)} of {sessions} sessions loaded, pressing Play", flush=True)
    for page in loaded:
        if page.locator(PLAYER).count():  # the chart plays itself; a run shown whole restarts from step 0
            page.locator(PLAYER).click(force=True)
        else:
            page.locator(f"{key_class('playground.play')} button").click()
    selector, moves = f"{key_class(SLIDERS['playground'])} input[type=range]", int(duration_s // every_s)
    cpu0, start, browser_t0 = cpu_seconds(server.pids), time.perf_counter(), []
    for i, page in enumerate(loaded):  # the pages move their own sliders on schedule (bench_browser.js)
        offset_ms = 1000 * (1.0 + i * every_s / len(loaded) - (time.perf_counter() - start))
        browser_t0.append(page.evaluate("() => performance.now()"))
        page.evaluate(f"() => window.__bench.autoMove('{selector}', {max(0.0, offset_ms)}, {1000 * every_s}, {moves})")
    time.sleep(max(0.0, start + 1.0 + moves * every_s - time.perf_counter()))
    window_s = time.perf_counter() - start
    cpu = (cpu_seconds(server.pids) - cpu0) / window_s
    deadline, summaries = time.time() + TIMEOUT_MS / 1000, []  # let the last changes finish (or time out)
    while True:
        summaries = [p.evaluate(f"() => window.__bench.summary({t0}, {1000 * window_s}, {TIMEOUT_MS})")
                     for p, t0 in zip(loaded, browser_t0)]
        if time.time() > deadline or not any(r["pending"] for r in summaries):
            break
        time.sleep(1.0)
    latencies, missing, fps, with_errors = [], 0, [], kinds["did not load"]
    for page, r in zip(loaded, summaries):
        latencies += r["latencies"]
        missing += r["missing"] + r["pending"]
        fps.append(r["frames"] / window_s)
        found = {"exception box": page.locator('[data-testid="stException"]').count() > 0,
                 "page error": bool(page.errors), "websocket closed": r["closed"] > 0,
                 "slider not found": r["missingInput"] > 0}
        kinds.update(name for name, hit in found.items() if hit)
        with_errors += any(found.values())
        page.context.close()
    latencies.sort()
    p95 = latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))] if latencies else float("nan")
    return {"sessions": sessions, "changes": len(latencies) + missing, "p50": statistics.median(latencies)
            if latencies else float("nan"), "p95": p95, "missing": missing, "errors": with_errors,
            "kinds": ", ".join(f"{n} {kind}" for kind, n in kinds.items()) or "none",
            "fps": statistics.median(fps) if fps else 0.0, "cpu": cpu, "window": window_s,
            "load": (load0 + load()) / 2}


def page_section(rows: dict) -> str:
    lines = ["## Dashboard in a real browser (`benchmarks/bench_browser.py`)", "",
             f"Headless Chromium and the server on this 2-core x86_64 machine, shared with other jobs: the load "
             f"average (1 min) is given beside every number, and every number is an upper bound. Measured "
             f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC. Median of {MOVES} one-step slider moves "
             f"per page (one session, not playing); playback over {PLAY_S:.0f} s after Reset and Play. Targets "
             "(issue 20): redraw ≤ 500 ms (browser) and ≤ 200 ms (server), ≥ 24 frames/s, ≤ 5 % of a core.", "",
             "| page | slider → redraw, browser (ms) | worst (ms) | server (ms) | server CPU time (ms) "
             "| payload per redraw (kB) | player | playback (frames/s) | steps shown (/s) "
             "| server reruns playing (/s) | WebSocket messages playing (/s) "
             "| server CPU playing (% of a core) | errors | load avg |", "|" + "---|" * 14]
    failed = {name: r for name, r in rows.items() if "failed" in r}
    rows = {name: r for name, r in rows.items() if name not in failed}
    for name, r in failed.items():
        lines.append(f"| {name} | failed: {r['failed']} |" + " |" * 12 + f" {r['load']:.1f} |")
    for name, r in rows.items():
        steps = "–" if r["steps"] is None else f"{r['steps']:.1f}"
        lines.append(f"| {name} | {r['redraw']:.0f} | {r['worst']:.0f} | {r['server']:.0f} | {r['server_cpu']:.0f} "
                     f"| {r['kb']:.0f} | {r['player']} | {r['fps']:.1f} | {steps} | {r['reruns']:.1f} "
                     f"| {r['messages']:.1f} | {100 * r['cpu']:.0f} | {r['errors']} | {r['load']:.1f} |")
    budgets = [("slider → redraw ≤ 500 ms", "redraw", 500, max), ("server ≤ 200 ms", "server", 200, max),
               ("playback ≥ 24 frames/s", "fps", 24, min), ("server CPU playing ≤ 5 %", "cpu", 0.05, max)]
    verdicts = []
    for text, key, limit, worst in budgets if rows else []:
        name = worst(rows, key=lambda page: rows[page][key])
        value, ok = rows[name][key], (rows[name][key] >= limit if worst is min else rows[name][key] <= limit)
        shown = {"cpu": f"{100 * value:.0f} %", "fps": f"{value:.1f} frames/s"}.get(key, f"{value:.0f} ms")
        verdicts.append(f"{text}: {'met' if ok else 'missed'} (worst page median: {name}, {shown})")
    lines += ["", "Against the budgets: " + "; ".join(verdicts) + ". *Server CPU time* is the CPU the server "
              "processes used per slider move (from /proc): where it is far below *server*, the rerun spent "
              "most of its time waiting for a core on this shared machine, not computing."]
    lines.append("*player* = browser: the chart plays itself (app_pages.browser_player); *playback* counts "
                 "animation frames with a visual change, *steps shown* reads the chart's step counter "
                 "(24 frames/s by default, one step a frame up to 250 steps). *player* = server: every frame is a "
                 "rerun of the page's fragment on the server (the reruns column).")
    return "\n".join(lines)


CONCURRENCY_HEAD = ["## Many sessions in one browser (`benchmarks/bench_browser.py --sessions N`)", "",
                    "Playground, every session playing; each page presses an arrow key on its η slider every 5 s "
                    "(staggered, from a script in the page, so the schedule holds however busy the driver is). "
                    "*slider → rerun delivered* = key press → that run's last message in the browser (drawing "
                    "comes on top); p50 and p95 are over the changes delivered within 30 s, the others are counted "
                    "apart. Upper bounds: this 2-core machine is shared, see the load average, and the browser's "
                    "pages run on the same cores as the server. "
                    "Targets (issue 20): 30 sessions, p95 ≤ 2 s, no errors.", "",
                    "| sessions | server | measured (UTC) | run (s) | slider changes | p50 (ms) | p95 (ms) "
                    "| not delivered in 30 s | frames/s per session (median) | server CPU (cores) "
                    "| sessions with errors (kinds) | load avg |",
                    "|---|---|---|---|---|---|---|---|---|---|---|---|"]


def ms(value: float) -> str:
    return "none delivered" if value != value else f"{value:.0f}"  # NaN: no change was delivered


def concurrency_section(r: dict, layout: str) -> str:
    row = (f"| {r['sessions']} | {layout} | {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} | {r['window']:.0f} "
           f"| {r['changes']} "
           f"| {ms(r['p50'])} | {ms(r['p95'])} | {r['missing']} | {r['fps']:.1f} | {r['cpu']:.2f} "
           f"| {r['errors']} ({r['kinds']}) "
           f"| {r['load']:.1f} |")
    old = re.search(r"<!-- begin browser-concurrency -->(.*?)<!-- end browser-concurrency -->",
                    DOC.read_text() if DOC.exists() else "", re.S)
    rows = [line for line in (old.group(1).splitlines() if old else []) if re.match(r"\| \d+ \|", line)]
    rows = [line for line in rows if line.split("|")[1:3] != row.split("|")[1:3]] + [row]
    rows.sort(key=lambda line: (line.split("|")[2], int(line.split("|")[1])))
    return "\n".join(CONCURRENCY_HEAD + rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=30, help="concurrent sessions (0: skip that run)")
    parser.add_argument("--cluster", type=int, default=0, help="workers behind haproxy (0: one Streamlit server)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of the concurrency run")
    parser.add_argument("--skip-pages", action="store_true", help="only the concurrency run")
    parser.add_argument("--pages", nargs="*", default=list(SLIDERS), choices=list(SLIDERS))
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():  # `make bench` runs every benchmark: skip, don't fail
        print(f"skipped: {CHROMIUM} is missing (make browser-deps)")
        return
    from playwright.sync_api import sync_playwright

    layout = f"haproxy + {args.cluster} workers" if args.cluster else "1 Streamlit process"
    with Server(args.cluster) as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        if not args.skip_pages:
            rows = {}
            for name in args.pages:
                try:
                    rows[name] = bench_page(browser, server, name)
                except Exception as error:  # a page that fails is a row of the table, not the end of the run
                    rows[name] = {"failed": str(error).splitlines()[0][:120], "load": load()}
                print(name, rows[name], flush=True)
            if not args.no_write:
                write_section("browser", page_section(rows))
        if args.sessions:
            result = bench_concurrency(browser, server, args.sessions, args.duration)
            print(layout, result, flush=True)
            if not args.no_write:
                write_section("browser-concurrency", concurrency_section(result, layout))
        browser.close()
    print("not written (--no-write)" if args.no_write else f"wrote {DOC}")


if __name__ == "__main__":
    main()
