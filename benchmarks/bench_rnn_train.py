"""RNN training through the trajectory driver vs the same iterations hand-written as one loop.

(a) ``steplab.rnn.train``: ``steplab.trajectory.run`` on a ``TaskProblem`` with the ``guarded_sgd`` update,
    called for ``eval_every`` iterations at a time with an evaluation in between;
(b) the same minibatch draws, gradients, clipping and evaluations written as a single ``for`` loop.

Both train 20 runs (seeds 0-9, unclipped and clipped at c = 1) of temporal order T = 20 on one torch thread,
must end with identical parameters, and are timed alternately (median of ``--repeats``).

Run: ``.venv/bin/python benchmarks/bench_rnn_train.py [--iterations 500] [--repeats 3]``. Prints only.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from steplab.device import cpu_threads
from steplab.rnn.model import RNNLayout, clip_with_nan_guard, init_params
from steplab.rnn.tasks import get_task
from steplab.rnn.train import DATA_SEED_OFFSET, EVAL_SEED_OFFSET, _batch, evaluate, train, training_gradient

SEEDS = tuple(range(10)) * 2
THRESHOLDS = (None,) * 10 + (1.0,) * 10


def hand_loop(iterations: int, eval_every: int = 250, lr: float = 0.1, length: int = 20) -> torch.Tensor:
    """(b): the iteration of ``steplab.rnn.train`` as one loop; returns the final parameters."""
    spec = get_task("temporal_order")
    layout = RNNLayout(spec.input_size, 50, spec.output_size)
    flat = init_params(layout, "basic_tanh", list(SEEDS))
    streams = sorted(set(SEEDS))
    run_index = torch.tensor([streams.index(s) for s in SEEDS])
    data = [torch.Generator().manual_seed(s + DATA_SEED_OFFSET) for s in streams]
    held_out = [torch.Generator().manual_seed(s + EVAL_SEED_OFFSET) for s in streams]
    threshold = torch.tensor([float("inf") if c is None else c for c in THRESHOLDS])
    active = torch.ones(len(SEEDS), dtype=torch.bool)
    for it in range(iterations):
        inputs, targets = _batch("temporal_order", 20, length, data, run_index, torch.float32)
        _, _, grads = training_gradient(flat, layout, spec, inputs, targets)
        step, _ = clip_with_nan_guard(grads, flat, layout, threshold)
        flat = flat - lr * step * active[:, None].to(flat.dtype)
        if (it + 1) % eval_every == 0 or it + 1 == iterations:
            errors = evaluate("temporal_order", length, flat, layout, held_out, run_index, 1000)
            active &= ~(errors < 0.01)
    return flat


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    times = {"run": [], "loop": []}
    with cpu_threads(1):
        for _ in range(args.repeats):
            start = time.perf_counter()
            driven = train("temporal_order", 20, seeds=SEEDS, clip_thresholds=THRESHOLDS,
                           max_iterations=args.iterations, threads=None).params
            times["run"].append(time.perf_counter() - start)
            start = time.perf_counter()
            looped = hand_loop(args.iterations)
            times["loop"].append(time.perf_counter() - start)
            if not torch.equal(driven, looped):
                raise SystemExit("the two implementations disagree")
    run_s, loop_s = statistics.median(times["run"]), statistics.median(times["loop"])
    print(f"{len(SEEDS)} runs x {args.iterations} iterations, 1 torch thread, median of {args.repeats}: "
          f"trajectory.run {run_s:.2f} s, hand loop {loop_s:.2f} s, ratio {run_s / loop_s:.2f}; parameters identical")


if __name__ == "__main__":
    main()
