"""Where a slider -> redraw goes in a real browser: key press, rerun request, script run, messages, drawing.

    .venv/bin/python benchmarks/bench_redraw_breakdown.py                 # all five pages, 4 moves each
    .venv/bin/python benchmarks/bench_redraw_breakdown.py --pages rnn --moves 3 --profile --browser-profile
    .venv/bin/python benchmarks/bench_redraw_breakdown.py --no-post-gc     # or --gc-freeze: the GC remedies

While others edit app_pages/, measure a fixed commit: ``git archive HEAD | tar -x -C /tmp/snap``, copy this
file and redraw_probe_server.py into /tmp/snap/benchmarks, and run it there with ``PYTHONPATH=/tmp/snap/lib``.

bench_app.py (AppTest) and bench_browser.py (headless Chromium) disagree by a factor 3-8 on the server time
of a slider move; this benchmark splits the browser's number into its parts. The server is
benchmarks/redraw_probe_server.py (``streamlit run app.py`` with probes, the app unchanged); the browser is
bench_browser.py's instrumented page (every WebSocket message timed on the browser clock) plus a long-task
observer. Both clocks are turned into epoch milliseconds (``performance.timeOrigin``; same machine), so each
move gets, in ms from the key press:

* *sent*: the browser sends the rerun BackMsg (the slider's own debounce comes first);
* *handled*: the server handles it; *run start*/*run end*: ``ScriptRunner._run_script`` (which ends after
  Streamlit's post-run ``gc.collect(2)``); *script*: app.py's own ``_server_seconds``;
* *first msg*/*finished*: the first message of the rerun and its ``script_finished`` reach the browser;
* *visual*: the last DOM mutation or chart-pixel change before 1.5 s of quiet (bench_browser.js);

and the payload (bytes received), the server thread's CPU time, Altair ``to_dict``/validation, Arrow and
whole-chart marshalling time, the GC pause, and the browser main thread's long tasks (> 50 ms) in the move.
Also per move: chart views built again in the browser (new canvases), chart specs (without data) changed
on the server, and chart elements remounted (new ``.vega-embed`` containers). Pages open at
``?playback=server`` with their other defaults, not playing (no fragment timer runs). With
``--profile`` a second server start runs every script under cProfile and prints each page's top functions.
Prints tables; writes nothing else.
"""

from __future__ import annotations

import argparse
import json
import os
import pstats
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import bench_browser as bb  # noqa: E402

LONG_TASKS = """(() => {
  window.__longTasks = [];
  try {
    new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__longTasks.push([e.startTime,
      e.duration]); }).observe({ type: "longtask", buffered: true });
  } catch (e) {}
  window.__newViews = 0;  // canvases / svg roots added inside charts: a chart view built again, not updated
  new MutationObserver((mutations) => {
    for (const m of mutations) for (const n of m.addedNodes)
      if ((n.nodeName === "CANVAS" || n.nodeName === "svg") && n.parentElement?.closest(".vega-embed"))
        window.__newViews += 1;
  }).observe(document, { subtree: true, childList: true });
})();"""


class ProbedServer:
    """redraw_probe_server.py on a free port, logging to ``log``; ``profile_dir`` turns cProfile on, ``extra``
    adds `streamlit run` options and ``env`` environment variables."""

    def __init__(self, log: Path, profile_dir: Path | None = None, extra: list[str] = (), env: dict = None):
        self.log, self.profile_dir, self.extra, self.env = log, profile_dir, list(extra), env

    def __enter__(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        mine = [str(self.log)] + ([str(self.profile_dir)] if self.profile_dir else [])
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "benchmarks" / "redraw_probe_server.py"), *mine,
                                      "--", "run", "app.py", "--server.headless", "true", "--server.port", str(port),
                                      "--server.address", "127.0.0.1", "--server.fileWatcherType", "none", *self.extra],
                                     cwd=ROOT, env={**os.environ, **(self.env or {})},
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.url, self.pids = f"http://127.0.0.1:{port}", [self.proc.pid]
        deadline = time.time() + 120
        while not bb.launch.healthy(self.url):
            if time.time() > deadline or self.proc.poll() is not None:
                raise RuntimeError("probe server did not become healthy")
            time.sleep(0.5)
        return self

    def __exit__(self, *_):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def read_log(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def cpu_profile_buckets(profile: dict, top: int = 12) -> list[tuple[str, float]]:
    """Self time (ms) of a Chromium CPU profile, by script file (or V8's own bucket: GC, program, idle)."""
    node_bucket = {}
    for node in profile["nodes"]:
        frame = node["callFrame"]
        url = frame.get("url", "")
        node_bucket[node["id"]] = (url.rsplit("/", 1)[-1] or frame["functionName"] or "(anonymous)")
    totals = {}
    for sample, delta in zip(profile["samples"], profile["timeDeltas"]):
        bucket = node_bucket.get(sample, "?")
        totals[bucket] = totals.get(bucket, 0.0) + delta / 1000
    return sorted(totals.items(), key=lambda item: -item[1])[:top]


def measure_page(browser, server: ProbedServer, name: str, moves: int, cpu_profile: bool = False) -> list[dict]:
    """``moves`` one-step slider moves (after one warm-up); per move the browser's timeline, epoch ms; with
    ``cpu_profile`` the browser's main thread is sampled (CDP Profiler) during the last move."""
    context = browser.new_context(viewport={"width": 1500, "height": 1100})
    context.add_init_script(bb.INSTRUMENT.replace("__CODES__", repr(bb.finished_codes()).replace("'", '"')))
    context.add_init_script(LONG_TASKS)
    page = context.new_page()
    page.goto(f"{server.url}/{name}?playback=server", timeout=240_000, wait_until="commit")
    bb.wait_rendered(page, name, 240)
    origin = page.evaluate("() => performance.timeOrigin")
    results = []
    cdp = context.new_cdp_session(page) if cpu_profile else None
    for i in range(moves + 1):
        if cdp and i == moves:
            cdp.send("Profiler.enable")
            cdp.send("Profiler.setSamplingInterval", {"interval": 500})
            cdp.send("Profiler.start")
        views0 = page.evaluate("""() => { for (const e of document.querySelectorAll('.vega-embed'))
            e.__old = true; return window.__newViews; }""")
        cpu0 = bb.cpu_seconds(server.pids)
        bb.move_slider(page, name, i)
        settle = f"window.__bench.settle(window.__bench.keys.at(-1), {bb.QUIET_MS}, {bb.TIMEOUT_MS}, true)"
        r = page.evaluate(f"""async () => {{
            const r = await {settle};
            const inMove = (t) => t >= r.key && t <= (r.visual ?? r.finished);
            r.recv = window.__bench.recv.filter((m) => m[0] >= r.key && m[0] <= (r.finished ?? 1e18));
            r.longTasks = window.__longTasks.filter((e) => inMove(e[0]));
            return r; }}""")
        cpu = bb.cpu_seconds(server.pids) - cpu0
        new_views = page.evaluate("() => window.__newViews") - views0
        remounted = page.evaluate("() => [...document.querySelectorAll('.vega-embed')].filter((e) => !e.__old).length")
        if cdp and i == moves:
            buckets = cpu_profile_buckets(cdp.send("Profiler.stop")["profile"])
            print(f"{name}: browser main thread during one move, self ms by script: "
                  + ", ".join(f"{b} {v:.0f}" for b, v in buckets), flush=True)
        if i == 0:
            continue  # warm-up
        if r["finished"] is None:
            raise RuntimeError(f"{name}: no full run finished within {bb.TIMEOUT_MS} ms")
        epoch = {k: origin + r[k] for k in ("key", "sent", "finished", "visual") if r.get(k) is not None}
        epoch["first"] = origin + r["recv"][0][0] if r["recv"] else None
        last_before = [m[0] for m in r["recv"] if m[0] < r["finished"]]
        epoch["last_delta"] = origin + (last_before[-1] if last_before else r["finished"])
        results.append({**epoch, "bytes": r["bytes"], "messages": len(r["recv"]), "process_cpu": cpu,
                        "new_views": new_views, "remounted": remounted,
                        "long_tasks": sum(d for _, d in r["longTasks"]), "long_task_n": len(r["longTasks"])})
    context.close()
    return results


def attach_server(moves: list[dict], log: list[dict]) -> None:
    """Give each move its server records: the rerun BackMsg handled, the full run and the messages sent."""
    for m in moves:
        lo, hi = (m["sent"] - 50) / 1000, m["finished"] / 1000
        backs = [r for r in log if r["kind"] == "backmsg" and r["type"] == "rerun_script" and lo <= r["t"] <= hi]
        runs = [r for r in log if r["kind"] == "run" and not r["fragment"] and lo <= r["start"] <= hi]
        m["handled"] = 1000 * backs[0]["t"] if backs else None
        m["reruns"] = len(runs)
        m["run"] = runs[-1] if runs else {}
        sent = [r for r in log if r["kind"] == "sent" and lo <= r["t"] <= hi + 0.05]
        m["serialize"] = sum(r["serialize"] for r in sent)
        finished = [r for r in sent if r["type"] == "script_finished"]
        m["finished_sent"] = 1000 * finished[-1]["t"] if finished else None


def count_changed_specs(moves: list[dict]) -> None:
    """Per move, how many chart specs (without data) differ from the previous move's, chart by chart."""
    previous = None
    for m in moves:
        specs = m["run"].get("specs", [])
        m["specs_changed"] = (sum(a != b for a, b in zip(specs, previous)) + abs(len(specs) - len(previous))
                              if previous is not None else None)
        previous = specs


def median(moves: list[dict], value) -> float:
    values = [v for v in (value(m) for m in moves) if v is not None]
    return statistics.median(values) if values else float("nan")


def row(name: str, moves: list[dict]) -> dict:
    run = lambda key: (lambda m: 1000 * m["run"][key] if key in m["run"] else 0.0)  # noqa: E731
    since = lambda key: (lambda m: m[key] - m["key"] if m.get(key) is not None else None)  # noqa: E731
    return {
        "page": name, "sent": median(moves, since("sent")), "handled": median(moves, since("handled")),
        "run_start": median(moves, lambda m: 1000 * m["run"]["start"] - m["key"] if m["run"] else None),
        "script": median(moves, lambda m: 1000 * (m["run"].get("server_seconds") or 0)),
        "run_wall": median(moves, lambda m: 1000 * (m["run"]["end"] - m["run"]["start"]) if m["run"] else None),
        "run_cpu": median(moves, run("cpu")), "gc": median(moves, run("gc")), "gc_cpu": median(moves, run("gc_cpu")),
        "auto_gc": median(moves, lambda m: 1000 * sum(m["run"].get(f"all_gc{g}", 0.0) for g in range(3))
                          - 1000 * m["run"].get("gc", 0.0)),
        "chart": median(moves, run("chart_element")), "to_dict": median(moves, run("altair_to_dict")),
        "validate": median(moves, run("altair_validate")), "arrow": median(moves, run("arrow")),
        "charts": median(moves, lambda m: m["run"].get("chart_element_n", 0)),
        "finished_sent": median(moves, since("finished_sent")), "first": median(moves, since("first")),
        "finished": median(moves, since("finished")), "visual": median(moves, since("visual")),
        "render": median(moves, lambda m: m["visual"] - m["finished"] if m.get("visual") else None),
        "server_browser": median(moves, lambda m: m["finished"] - m["sent"]),
        "kb": median(moves, lambda m: m["bytes"] / 1e3), "messages": median(moves, lambda m: m["messages"]),
        "new_views": median(moves, lambda m: m["new_views"]),
        "remounted": median(moves, lambda m: m["remounted"]),
        "specs_changed": median(moves, lambda m: m["specs_changed"]),
        "serialize": median(moves, lambda m: 1000 * m["serialize"]),
        "process_cpu": median(moves, lambda m: 1000 * m["process_cpu"]),
        "long_tasks": median(moves, lambda m: m["long_tasks"]), "reruns": median(moves, lambda m: m["reruns"]),
    }


COLUMNS = [("page", "page", "{}"), ("sent", "key → rerun sent", "{:.0f}"), ("handled", "→ handled", "{:.0f}"),
           ("run_start", "→ run start", "{:.0f}"), ("finished_sent", "→ finished sent", "{:.0f}"),
           ("finished", "→ finished in browser", "{:.0f}"), ("visual", "→ last visual change", "{:.0f}"),
           ("server_browser", "server as bench_browser (sent → finished)", "{:.0f}"),
           ("script", "app.py run (_server_seconds)", "{:.0f}"), ("run_wall", "ScriptRunner run incl. GC", "{:.0f}"),
           ("run_cpu", "its thread CPU", "{:.0f}"), ("gc", "post-run gc.collect(2)", "{:.0f}"),
           ("gc_cpu", "its CPU", "{:.0f}"), ("auto_gc", "automatic GC in the run", "{:.0f}"),
           ("chart", "chart marshalling", "{:.0f}"), ("to_dict", "Altair to_dict", "{:.0f}"),
           ("validate", "of which validation", "{:.0f}"), ("arrow", "Arrow", "{:.0f}"),
           ("charts", "charts", "{:.0f}"), ("kb", "payload (kB)", "{:.1f}"), ("messages", "messages", "{:.0f}"),
           ("serialize", "proto serialise", "{:.1f}"), ("render", "browser render (finished → visual)", "{:.0f}"),
           ("new_views", "chart views rebuilt", "{:.0f}"), ("specs_changed", "specs changed", "{:.0f}"),
           ("remounted", "chart elements remounted", "{:.0f}"),
           ("long_tasks", "browser long tasks", "{:.0f}"), ("process_cpu", "server process CPU per move", "{:.0f}")]


def table(rows: list[dict]) -> str:
    lines = ["| " + " | ".join(title for _, title, _ in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in rows:
        lines.append("| " + " | ".join(fmt.format(r[key]) for key, _, fmt in COLUMNS) + " |")
    return "\n".join(lines)


def profile_summary(profile_dir: Path, numbers: list[int], top: int = 18) -> str:
    """Top functions by cumulative time over the script runs ``numbers`` (their cProfile files)."""
    files = [profile_dir / f"run-{n}.prof" for n in numbers if (profile_dir / f"run-{n}.prof").exists()]
    if not files:
        return "  (no profile)"
    stats = pstats.Stats(*[str(f) for f in files])
    rows = sorted(stats.stats.items(), key=lambda item: -item[1][3])
    keep = ("app_pages", "steplab", "altair", "jsonschema", "vega_charts", "dataframe_util", "pandas", "pyarrow",
            "narwhals", "gc", "torch", "script_runner", "exec_code")
    out = [f"  {len(files)} runs; cumulative ms per run (tottime ms per run), function"]
    for (path, line, func), (_, calls, tottime, cumtime, _) in rows:
        if any(k in path or k in func for k in keep):
            out.append(f"  {1000 * cumtime / len(files):7.1f} ({1000 * tottime / len(files):6.1f})  "
                       f"{Path(path).name}:{line} {func}  [{calls // len(files)} calls]")
        if len(out) > top:
            break
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", nargs="*", default=list(bb.SLIDERS), choices=list(bb.SLIDERS))
    parser.add_argument("--moves", type=int, default=4)
    parser.add_argument("--profile", action="store_true", help="then a cProfile pass (second server start)")
    parser.add_argument("--no-post-gc", action="store_true", help="serve with --runner.postScriptGC false")
    parser.add_argument("--browser-profile", action="store_true", help="CDP CPU profile of the last move")
    parser.add_argument("--gc-freeze", action="store_true", help="gc.freeze() after the first run's collection")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="redraw_breakdown_"))
    rows = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=bb.CHROMIUM, args=bb.ARGS)
        log = work / "timing.jsonl"
        extra = ["--runner.postScriptGC", "false"] if args.no_post_gc else []
        env = {"REDRAW_PROBE_GC_FREEZE": "1"} if args.gc_freeze else {}
        with ProbedServer(log, extra=extra, env=env) as server:
            for name in args.pages:
                moves = measure_page(browser, server, name, args.moves, args.browser_profile)
                attach_server(moves, read_log(log))
                count_changed_specs(moves)
                rows.append(row(name, moves))
                print(json.dumps(rows[-1]), flush=True)
        print(f"\nserver options: {' '.join(extra) or 'defaults'}{' + gc.freeze()' if args.gc_freeze else ''}; "
              f"load average {bb.load():.1f}; ms from the key press unless a column says otherwise; medians of "
              f"{args.moves} moves\n" + table(rows), flush=True)
        if args.profile:
            profile_dir, log = work / "profiles", work / "profile.jsonl"
            with ProbedServer(log, profile_dir, extra=extra, env=env) as server:
                for name in args.pages:
                    moves = measure_page(browser, server, name, args.moves)
                    attach_server(moves, read_log(log))
                    numbers = [m["run"]["n"] for m in moves if m["run"]]
                    print(f"\n{name} under cProfile:\n" + profile_summary(profile_dir, numbers), flush=True)
        browser.close()
    print(f"\nraw logs: {work}")


if __name__ == "__main__":
    main()
