"""The clipping family's loops vs the generic driver ``steplab.trajectory.run``, side by side, one torch thread.

Each engine of ``steplab.clipping`` is timed against the same computation written on ``trajectory.run``
(resumed chunk by chunk where the engine stops early or streams its input):

(a) ``simulate_bias``: 5 configurations x 256 chains of clipped SGD on x^2/2 with two-point noise, 4000 steps,
    vs ``run(Noisy(Quadratic), chain(clip_by_norm(c), scale(eta)))`` recording every iterate for the tail average;
(b) ``hitting_times`` on cosh x - 1 (plain GD, eta = 2/cosh(10), 20k steps), the engine of E1/E2;
(c) ``median.track``: the SPP median tracker and the running mean on a [20000, 16, 2] stream, vs ``run`` on a
    problem whose oracle returns x - g_t (the gradient of ||x - g_t||^2 / 2) and a transform with a step counter;
(d) ``robust.robust_sgd``: its five directions x 256 chains, 4000 steps, b = 5 samples of x + (1 + |x|) xi (Cauchy),
    vs ``run`` on a problem returning those per-sample gradients and a transform computing each block's direction.

Run: ``.venv/bin/python benchmarks/bench_clipping_driver.py [--repeat 3]``; prints the best time of each and the
ratio run / engine. The engines' module docstrings quote these ratios.
"""

from __future__ import annotations

import argparse
import math
import time

import torch

from steplab.clipping.deterministic import hitting_times
from steplab.clipping.median import contaminated_gradients, track
from steplab.clipping.robust import robust_sgd
from steplab.clipping.simulate import simulate_bias
from steplab.noise import cauchy_draw
from steplab.problems import Cosh, Noisy, Quadratic, TwoPointNoise
from steplab.trajectory import run
from steplab.transforms import GradientTransform, chain, clip_by_norm, clip_factor, run_norm, scale


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def bias_engine(steps: int):
    c = torch.tensor([0.25, 0.5, 1.0, 2.0, 4.0], dtype=torch.float64)
    return simulate_bias(c, 0.01, TwoPointNoise(1.0, 0.1), steps=steps, seed=0)


def bias_on_run(steps: int):
    c = torch.tensor([0.25, 0.5, 1.0, 2.0, 4.0], dtype=torch.float64).repeat_interleave(256)
    x0 = torch.zeros(c.numel(), 1, dtype=torch.float64)
    traj = run(Noisy(Quadratic([1.0]), TwoPointNoise(1.0, 0.1)), chain(clip_by_norm(c), scale(0.01)), x0, steps,
               seed=0, max_loss=math.inf)
    return traj.iterates[steps // 2:steps].mean(0).reshape(5, 256).mean(1).abs()


def hitting_engine(steps: int):
    x0 = torch.full((1, 1), 10.0, dtype=torch.float64)
    return hitting_times(Cosh(), x0, 2 / math.cosh(10.0), 1e300, (1e-30,), max_steps=steps)


def hitting_on_run(steps: int, chunk: int = 512):
    x = torch.full((1, 1), 10.0, dtype=torch.float64)
    transform = chain(clip_by_norm(1e300), scale(2 / math.cosh(10.0)))
    state, norms, done = None, [], 0
    while done < steps:  # resumed chunk by chunk, as an early-stopping engine would
        traj = run(Cosh(), transform, x, min(chunk, steps - done), record_every=None, max_loss=math.inf, state=state)
        x, state, done = traj.final, traj.state, done + traj.steps
        norms.append(traj.grad_norm)
    return torch.cat(norms)


class Stream:
    """oracle(x) = (||x - g_t||, x - g_t) for the next sample g_t of a fixed stream [T, R, d]."""

    def __init__(self, samples):
        self.samples, self.t = samples, 0

    def oracle(self, x, generator=None):
        residual = x - self.samples[self.t]
        self.t += 1
        return run_norm(residual), residual

    def loss(self, x):
        return torch.zeros(x.shape[0], dtype=x.dtype)


def tracker_transform(tau0: float, runs: int) -> GradientTransform:
    """First ``runs`` rows: m <- m - clip_{tau0/sqrt t}(m - g); the rest: a <- a - (a - g)/t."""

    def init(params):
        return 0

    def update(grads, t, params=None, info=None):
        t += 1
        median = grads[:runs] * clip_factor(run_norm(grads[:runs]), tau0 / t**0.5).unsqueeze(-1)
        return torch.cat([median, grads[runs:] / t]), t

    return GradientTransform(init, update, "tracker")


def track_on_run(samples):
    x0 = torch.zeros(2 * samples.shape[1], samples.shape[2], dtype=samples.dtype)
    stream = Stream(torch.cat([samples, samples], 1))
    return run(stream, tracker_transform(1.0, samples.shape[1]), x0, samples.shape[0], seed=None, record_every=100,
               max_loss=math.inf)


class StateDependentCauchy:
    """oracle(x) = per-sample gradients x + (1 + |x|) xi_i [R, b, 1], xi_i standard Cauchy (as robust_sgd)."""

    def __init__(self, batch: int):
        self.batch = batch

    def oracle(self, x, generator=None):
        u = torch.rand((x.shape[0], self.batch, 1), generator=generator, dtype=x.dtype)
        grads = x.unsqueeze(1) + (1 + x.abs().unsqueeze(1)) * cauchy_draw(u, 1.0)
        return 0.5 * (x**2).sum(-1), grads

    def loss(self, x):
        return 0.5 * (x**2).sum(-1)


def robust_transform(chains: int, eta: float = 0.05) -> GradientTransform:
    """Rows in blocks of ``chains``: mean, median, clip_1(g_1), SPP m + clip_1(g_1 - m), heavy ball (beta 0.9)."""

    def init(params):
        return torch.zeros(2 * chains, params.shape[1], dtype=params.dtype)

    def update(grads, m, params=None, info=None):
        blocks = grads.split(chains)
        spp = m[:chains] + (blocks[3][:, 0] - m[:chains]).clamp(-1, 1)
        momentum = 0.9 * m[chains:] + 0.1 * blocks[4][:, 0]
        step = torch.cat([blocks[0].mean(1), blocks[1].median(1).values, blocks[2][:, 0].clamp(-1, 1), spp, momentum])
        return eta * step, torch.cat([spp, momentum])

    return GradientTransform(init, update, "robust")


def robust_on_run(steps: int, chains: int = 256):
    x0 = torch.full((5 * chains, 1), 5.0, dtype=torch.float64)
    return run(StateDependentCauchy(5), robust_transform(chains), x0, steps, seed=0, record_every=None,
               max_loss=math.inf)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    samples = contaminated_gradients(20_000, runs=16, seed=0)
    pairs = {
        "simulate_bias (5 x 256 chains, 4000 steps)": (lambda: bias_engine(4000), lambda: bias_on_run(4000)),
        "hitting_times (cosh, 20000 steps)": (lambda: hitting_engine(20_000), lambda: hitting_on_run(20_000)),
        "median.track (16 chains, 20000 samples)": (lambda: track(samples, record_every=100),
                                                    lambda: track_on_run(samples)),
        "robust_sgd (5 x 256 chains, 4000 steps)": (lambda: robust_sgd(4000), lambda: robust_on_run(4000)),
    }
    print(f"torch {torch.__version__}, 1 thread, best of {args.repeat}")
    for name, (engine, generic) in pairs.items():
        t_engine, t_run = best(engine, args.repeat), best(generic, args.repeat)
        print(f"{name:45s} engine {t_engine:6.3f} s   trajectory.run {t_run:6.3f} s   ratio {t_run / t_engine:4.2f}x")


if __name__ == "__main__":
    main()
