"""Digits denoiser sampling: one 16-image grid per sampler at N = 10 (the issue's budget: under 1 s on a CPU).

Times ``steplab.diffusion.digits_experiments.run(method, 10, w = 3, batch = 16)`` — the stored network, guided
(two network halves per call), ε-form ODE on the linear grid — for DDIM, PLMS4, DPM-Solver++, HB 3.8 and GHVB 3.8,
and the whole 8-sampler × 5-N metrics grid of notebook 03 (200 samples per cell).

Run: ``make bench`` or ``.venv/bin/python benchmarks/bench_digits.py [--repeats 5]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import machine, write_section  # noqa: E402

from steplab.device import cpu_threads, describe_device  # noqa: E402
from steplab.diffusion import digits_experiments as de  # noqa: E402

METHODS = ("ddim", "plms4", "dpm++", "hb3.8", "ghvb3.8")


def best_of(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    model = de.stored_model()
    with cpu_threads(1):
        rows = [(m, best_of(lambda m=m: de.run(m, 10, de.GUIDANCE, batch=16, model=model), args.repeats))
                for m in METHODS]
        start = time.perf_counter()
        de.digits_grid.__wrapped__()  # uncached: every sampler × N, 200 samples each, plus the DDIM N = 100 floor
        grid_seconds = time.perf_counter() - start
    lines = [f"## Digits denoiser sampling (`benchmarks/bench_digits.py`) on {describe_device(model.device)}", "",
             "| sampler | 16 images, N = 10, w = 3 (ms) |", "|---|---|"]
    lines += [f"| {m} | {1000 * s:.1f} |" for m, s in rows]
    lines += ["", f"Notebook 03's metrics grid ({len(de.GRID_METHODS)} samplers × {len(de.GRID_STEPS)} N, "
              f"{de.METRIC_BATCH} samples each, and the DDIM N = {de.REFERENCE_STEPS} floor): {grid_seconds:.1f} s.",
              "", f"Machine: {machine()}; best of {args.repeats} after one warm-up. The budget is 1 s per grid."]
    print("\n".join(lines))
    write_section("digits", "\n".join(lines))


if __name__ == "__main__":
    main()
