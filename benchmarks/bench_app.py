"""Dashboard speed: server time from a slider change to the redrawn page, per page and ensemble size, on the
CPU and (when CUDA is present) on the GPU.

Measured with Streamlit's AppTest (the app runs in-process, no browser), with playback in the browser (the
pages' default): for each page, a slider is moved back and forth between two values (both cached after the first
move where the page caches) and each rerun is timed three ways: the script's own run time (``_server_seconds``,
recorded by app.py: the whole run computed once), the page's compute clock (``app_pages.ui.Clock``: what its
caption reports, CUDA synchronised), and AppTest's wall time around ``run()`` (adds the harness's polling).
AppTest's runner skips what Streamlit's real one does after every run, ``gc.collect(2)``
(``runner.postScriptGC``), so that collection is timed here after each rerun and added (*server + GC*; app.py
freezes the heap after its first run, ``app_pages.ui.freeze_heap_once``, so it stays small). *Report rerun*: a
rerun with nothing changed, what a chart's play / pause / scrub report costs the server (no compute).

Rows: every page at its CPU default ensemble on the CPU (``STEPLAB_DEVICE=cpu``); with CUDA, every page on
``cuda:0`` at the CPU default, at 10x the CPU default and at the largest ensemble of
``app_pages.ensemble.SIZES``. Targets (issues 8 and 13): slider -> redraw <= 200 ms server time at the CPU
defaults on the 2-core CPU, and on a GPU at 10x the CPU default ensemble.

    .venv/bin/python benchmarks/bench_app.py             # all rows; writes the "app" section of docs/benchmarks.md
    .venv/bin/python benchmarks/bench_app.py --gpu-only  # only the CUDA rows (make gpu-check)
    .venv/bin/python benchmarks/bench_app.py --no-write  # print only
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from pathlib import Path

import torch
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]
from report import machine, write_section  # noqa: E402

from app_pages import keys  # noqa: E402
from app_pages.ensemble import SIZES  # noqa: E402

# page -> (slider key, two values to alternate between, widget kind)
CASES = {
    "playground": ("playground.eta", (0.1, 0.12), "select_slider"),
    "clipping": ("clipping.c", (1.0, 1.2), "select_slider"),
    "logistic": ("logistic.gamma_max", (1000.0, 1200.0), "select_slider"),
    "diffusion": ("diffusion.guidance", (10.0, 10.5), "slider"),
    "rnn": ("rnn.eta", (1.0, 1.2), "select_slider"),
}
EXTRA = {"playground": {"noise": "1"}}  # the playground's cloud needs gradient noise
REPEATS = 6
RERUNS = 4
TARGET_MS = 200


def find(at: AppTest, kind: str, key: str):
    return next(w for w in getattr(at, kind) if w.key == key)


def bench_page(page: str, device: str, members: int, repeats: int = REPEATS, reruns: int = RERUNS) -> dict:
    """Median server (+ post-run GC) / compute / wall time of ``repeats`` slider moves, then of ``reruns``
    reruns with nothing changed."""
    os.environ["STEPLAB_DEVICE"] = device
    key, values, kind = CASES[page]
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
    at.switch_page(f"app_pages/{page}.py")
    for name, value in {**EXTRA.get(page, {}), SIZES[page].name: str(members)}.items():
        at.query_params[name] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not any(f"`{SIZES[page].name}`" in w.value for w in at.warning), f"{page}: {members} not allowed here"
    find(at, kind, key).set_value(values[1]).run()  # warm the caches and the compiled page
    server, compute, wall, collect = [], [], [], []
    for i in range(repeats):
        start = time.perf_counter()
        find(at, kind, key).set_value(values[i % 2]).run()
        wall.append(time.perf_counter() - start)
        assert not at.exception, [e.value for e in at.exception]
        collect.append(post_run_gc())
        server.append(at.session_state[keys.SERVER_SECONDS] + collect[-1])
        compute.append(at.session_state[keys.clock(page)].seconds)
    reports = []
    for _ in range(reruns):  # nothing changed: what a chart's transport report costs
        at.run()
        reports.append(at.session_state[keys.SERVER_SECONDS] + post_run_gc())
    return {"page": page, "device": device, "members": members, "server_ms": 1000 * statistics.median(server),
            "compute_ms": 1000 * statistics.median(compute), "max_server_ms": 1000 * max(server),
            "gc_ms": 1000 * statistics.median(collect), "wall_ms": 1000 * statistics.median(wall),
            "report_ms": 1000 * statistics.median(reports)}


def post_run_gc() -> float:
    """Seconds of the ``gc.collect(2)`` Streamlit's real script runner makes after every run."""
    start = time.perf_counter()
    gc.collect(2)
    return time.perf_counter() - start


def plan(gpu_only: bool) -> list[tuple[str, str, int, str]]:
    """(page, device, ensemble size, which size) for every row to measure."""
    rows = [] if gpu_only else [(page, "cpu", SIZES[page].cpu.default, "CPU default") for page in CASES]
    if torch.cuda.is_available():
        for page in CASES:
            entry = SIZES[page]
            scaled = 10 * (entry.cpu.default or entry.cpu.step)  # the RNN's CPU default is 0 starts: 10 steps
            rows += [(page, "cuda:0", entry.cpu.default, "CPU default"),
                     (page, "cuda:0", scaled, "10× CPU default" if entry.cpu.default else "10× CPU step"),
                     (page, "cuda:0", entry.cuda.high, "largest")]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gpu-only", action="store_true", help="only the CUDA rows (nothing without CUDA)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md as it is")
    args = parser.parse_args()
    results = []
    for page, device, members, which in plan(args.gpu_only):
        largest = which == "largest"
        r = bench_page(page, device, members, repeats=3 if largest else REPEATS, reruns=2 if largest else RERUNS)
        r["which"] = which
        results.append(r)
        print(f"{page:11s} {device:7s} {SIZES[page].name} = {members:>7,} ({which:15s}) slider->redraw "
              f"{r['server_ms']:7.0f} ms server + GC (GC {r['gc_ms']:.0f}, compute {r['compute_ms']:.0f}, worst "
              f"{r['max_server_ms']:.0f}, wall {r['wall_ms']:.0f})   report rerun {r['report_ms']:.0f} ms", flush=True)
    if not results:
        print("no rows: --gpu-only without CUDA")
        return
    load = os.getloadavg()
    lines = ["## Dashboard (`benchmarks/bench_app.py`)", "",
             f"Machine: {machine()} (on the CPU the pages compute on 1 torch thread, `app_pages.ui.compute_threads`); "
             f"load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1 / 5 / 15 min) when the run ended. "
             f"AppTest, median of {REPEATS} slider moves per row (3 at the largest ensemble) between two values "
             "that the page's caches then hold, playback in the browser (the whole run computed once); server = "
             "the script's run time + the post-run gc.collect(2) Streamlit's real runner makes (AppTest skips it); "
             "compute = the page's own clock (its caption, CUDA synchronised); report rerun = a rerun with "
             f"nothing changed (median of {RERUNS}), what a chart's play / pause / scrub report costs. "
             "Ensemble sizes: `app_pages.ensemble.SIZES`; the playground rows run "
             "with gradient noise σ = 1 (its cloud of noisy runs is drawn only then). Targets: slider → "
             f"redraw ≤ {TARGET_MS} ms server time at the CPU default on the CPU, and on a GPU at 10× the CPU default."
             + ("" if torch.cuda.is_available() else " No CUDA here: the GPU rows are not measured."), "",
             "| page | device | ensemble | size | slider → redraw, server + GC (ms) | of which post-run GC (ms) "
             "| page compute (ms) | worst (ms) | AppTest wall (ms) | report rerun (ms) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['page']} | {r['device']} | {SIZES[r['page']].name} = {r['members']:,} | {r['which']} "
                     f"| {r['server_ms']:.0f} | {r['gc_ms']:.0f} | {r['compute_ms']:.0f} | {r['max_server_ms']:.0f} "
                     f"| {r['wall_ms']:.0f} | {r['report_ms']:.0f} |")
    if args.no_write or args.gpu_only:
        print("\n".join(lines))
        return
    print(f"wrote {write_section('app', chr(10).join(lines))}")


if __name__ == "__main__":
    main()
