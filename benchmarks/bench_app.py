"""Dashboard speed: server time from a slider change to the redrawn page, and playback frames per second.

Measured with Streamlit's AppTest (the app runs in-process, no browser): for each page, a slider is moved
back and forth and each rerun is timed two ways: the script's own run time (``_server_seconds``, recorded
by app.py: the server work a browser would wait for) and AppTest's wall time around ``run()`` (adds the
test harness's polling). Playback: after Play, every ``run()`` advances the playing fragment by one frame;
the full-script rerun time is an upper bound on the fragment-only rerun the timer triggers in a browser.
Targets (issue 8): slider -> redraw <= 200 ms at default sizes on the 2-core CPU; playback >= 10 frames/s.

    .venv/bin/python benchmarks/bench_app.py            # writes the "app" section of docs/benchmarks.md
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]
from report import machine, write_section  # noqa: E402

from app_pages import keys  # noqa: E402

# page -> (slider key, two values to alternate between, play button key)
CASES = {
    "playground": ("playground.eta", (0.1, 0.12), "select_slider"),
    "clipping": ("clipping.c", (1.0, 1.2), "select_slider"),
    "logistic": ("logistic.gamma_max", (1000.0, 1200.0), "select_slider"),
    "diffusion": ("diffusion.guidance", (10.0, 10.5), "slider"),
    "rnn": ("rnn.eta", (1.0, 1.2), "select_slider"),
}
REPEATS = 6
FRAMES = 12


def find(at: AppTest, kind: str, key: str):
    return next(w for w in getattr(at, kind) if w.key == key)


def bench_page(page: str) -> dict:
    key, values, kind = CASES[page]
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.switch_page(f"app_pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    find(at, kind, key).set_value(values[1]).run()  # warm the caches and the compiled page
    server, wall = [], []
    for i in range(REPEATS):
        start = time.perf_counter()
        find(at, kind, key).set_value(values[i % 2]).run()
        wall.append(time.perf_counter() - start)
        server.append(at.session_state[keys.SERVER_SECONDS])
        assert not at.exception, [e.value for e in at.exception]
    at.button(key=keys.widget(page, "reset")).click().run()
    at.button(key=keys.widget(page, "play")).click().run()
    frames = []
    for _ in range(FRAMES):
        start = time.perf_counter()
        at.run()
        frames.append(at.session_state[keys.SERVER_SECONDS])
        if not at.session_state[keys.player(page)]["playing"]:
            break
    return {"server_ms": 1000 * statistics.median(server), "wall_ms": 1000 * statistics.median(wall),
            "max_server_ms": 1000 * max(server), "frame_ms": 1000 * statistics.median(frames),
            "fps": 1 / statistics.median(frames), "frames": len(frames)}


def main() -> None:
    rows = {page: bench_page(page) for page in CASES}
    load = os.getloadavg()[0]
    lines = ["## Dashboard (`benchmarks/bench_app.py`)", "",
             f"Machine: {machine()} (the pages compute on 1 torch thread, `app_pages.ui.compute_threads`); "
             f"load average {load:.1f} while measuring. AppTest, default sizes, median of {REPEATS} slider moves "
             f"per page; playback median over up to {FRAMES} frames (full-script reruns, an upper bound on the "
             "fragment-only reruns the browser timer triggers). "
             "Targets: slider → redraw ≤ 200 ms, playback ≥ 10 frames/s.", "",
             "| page | slider → redraw, server (ms) | worst of the moves (ms) | AppTest wall (ms) "
             "| playback frame (ms) | frames/s |",
             "|---|---|---|---|---|---|"]
    for page, r in rows.items():
        lines.append(f"| {page} | {r['server_ms']:.0f} | {r['max_server_ms']:.0f} | {r['wall_ms']:.0f} "
                     f"| {r['frame_ms']:.0f} | {r['fps']:.1f} |")
        print(f"{page:11s} slider->redraw {r['server_ms']:6.0f} ms (worst {r['max_server_ms']:.0f}, wall "
              f"{r['wall_ms']:.0f})   playback {r['frame_ms']:5.0f} ms/frame = {r['fps']:.1f} frames/s")
    path = write_section("app", "\n".join(lines))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
