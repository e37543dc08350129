"""The logistic family's loop (``steplab.logistic.algorithms.run_gd``) vs the generic driver ``trajectory.run``.

Both make the same updates (``algorithms.displacement``, bit for bit the same iterates, checked below) and then
the same summaries (``algorithms.summaries``) of the recorded iterates; the timed cases are the notebook's:

(a) LR+GD on digits 3 vs 8, 7 step sizes, 3000 steps (C3);
(b) Batch Perceptron on digits 3 vs 8, one run, 2000 steps (C2);
(c) LR+GD on the Wu et al. 4-point toy, 6 step sizes, 10 000 steps (C6: tiny tensors, per-step overhead);
(d) Normalized LR+GD on the Thm 5.1 set (n = 1000), 4 step sizes, 1000 steps (C4).

``run`` is driven two ways: with the logistic problem's true oracle (loss, grad f), the transform recomputing the
margins it needs; and, as a lower bound, with an oracle that hands the margins to the transform in place of the
gradient (no work repeated, but the recorded gradient norms are then meaningless).

Run: ``.venv/bin/python benchmarks/bench_logistic_driver.py [--repeat 3]``; prints the best time of each and the
ratio run / run_gd. The module docstring of ``steplab.logistic.algorithms`` quotes these ratios.
"""

from __future__ import annotations

import argparse
import math
import time

import torch

from steplab.logistic import algorithms, data, metrics
from steplab.trajectory import run
from steplab.transforms import GradientTransform


class LogisticProblem:
    """oracle(theta) = (f(theta), grad f(theta)) of the mean logistic loss; ``margins_as_gradient`` hands the
    margins to the transform instead (the lower bound)."""

    def __init__(self, signed, margins_as_gradient: bool = False):
        self.signed, self.margins_as_gradient = signed, margins_as_gradient

    def oracle(self, x, generator=None):
        margin = metrics.margins(x, self.signed)
        loss = metrics.logistic_loss(margin)
        return loss, (margin if self.margins_as_gradient else metrics.gradient(margin, self.signed))

    def loss(self, x):
        return metrics.logistic_loss(metrics.margins(x, self.signed))


def method_transform(method, signed, gamma, margins_given: bool) -> GradientTransform:
    """u_t = -(theta_{t+1} - theta_t) of ``method``; the state is the step counter t."""
    r_max = torch.tensor(1.0, dtype=torch.float64)

    def update(grads, t, x, info=None):
        margin = grads if margins_given else metrics.margins(x, signed)
        return -algorithms.displacement(method, x, margin, signed, gamma, t, r_max), t + 1

    return GradientTransform(lambda x: 0, update, method)


def on_run(dataset, gammas, steps, method, margins_given):
    gamma = torch.as_tensor(gammas, dtype=torch.float64)
    traj = run(LogisticProblem(dataset.signed, margins_given), method_transform(method, dataset.signed, gamma,
                                                                                margins_given),
               dataset.signed.new_zeros(len(gamma), dataset.d), steps, seed=None, max_loss=math.inf)
    algorithms.summaries(traj.iterates, dataset.signed)
    return traj.iterates


def best(fn, repeat: int, *args):
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn(*args)
        times.append(time.perf_counter() - start)
    return min(times), out


CASES = [
    ("(a) digits 3v8, 7 gammas, 3000", lambda: data.digits_pair(3, 8), [1e-3, 1e-2, 0.1, 1.0, 10.0, 100.0, 1e4],
     3000, "lr_gd"),
    ("(b) digits 3v8, 1 run, 2000", lambda: data.digits_pair(3, 8), [1.0], 2000, "batch_perceptron"),
    ("(c) Wu toy, 6 etas, 10000", data.wu_toy, [0.1, 1.0, 4.0, 10.0, 30.0, 100.0], 10_000, "lr_gd"),
    ("(d) Thm 5.1 n=1000, 4, 1000", lambda: data.thm51_worst_case(1000), [100.0, 10.0, 1.0, 0.1], 1000,
     "normalized_lr_gd"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"{'case':32s} {'run_gd':>8s} {'run':>8s} {'ratio':>6s} {'run (margins)':>14s} {'ratio':>6s}  same")
    for name, make, gammas, steps, method in CASES:
        dataset = make()
        own, history = best(algorithms.run_on, args.repeat, dataset, gammas, steps, method)
        generic, weights = best(on_run, args.repeat, dataset, gammas, steps, method, False)
        lower, weights_lower = best(on_run, args.repeat, dataset, gammas, steps, method, True)
        same = torch.equal(history.weights, weights) and torch.equal(history.weights, weights_lower)
        print(f"{name:32s} {own:7.3f}s {generic:7.3f}s {generic / own:6.2f} {lower:13.3f}s {lower / own:6.2f}  {same}")


if __name__ == "__main__":
    main()
