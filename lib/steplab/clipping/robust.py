"""SGSG's method: SGD with robust gradient estimators under heavy-tailed, state-dependent noise.

Schaipp, Garrigos, Simsekli, Gower (2024, "SGSG") study SGD whose step uses an estimate of the *median*
gradient, which "can converge even under heavy-tailed, state-dependent noise" (abstract), and median
estimates across iterations, which recover forms of clipping.  :func:`robust_sgd` runs, on f = (L/2) x^2
(1-D) with b gradient samples per step

    g_i = L x + (1 + |x|) xi_i,   xi_i standard Cauchy (no mean; the noise grows with |x|),

five step directions d_t side by side (x <- x - eta d_t), each for C chains, in one tensor program:

    mean:      d = (1/b) sum_i g_i                         (plain minibatch SGD; a mean of Cauchy draws is Cauchy)
    median:    d = median_i g_i                            (median-of-samples gradient, SGSG)
    clip:      d = clip_c(g_1)                             (clipped SGD: one SPP step from 0)
    spp:       m <- m + clip_tau(g_1 - m), d = m           (median across iterations, SGSG's SPP tracker)
    momentum:  m <- beta m + (1 - beta) g_1, d = m         (heavy ball: a running mean)

The median of g is L x, so the median-based directions point at x* = 0; the mean-based ones average
draws that have no mean.  Our construction of the noise; the paper's experiments were not reproduced.

Why its own loop and not ``steplab.trajectory.run``: the five directions are one tensor program here; on
``run`` (a per-sample state-dependent oracle and a transform computing each block's direction) the same
5 x 256-chain, 4000-step computation took 1.6x as long (1.16 s vs 0.72 s, one torch thread, measured side
by side with ``.venv/bin/python benchmarks/bench_clipping_driver.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from steplab.device import cpu_threads, make_generator, resolve_device
from steplab.noise import cauchy_draw
from steplab.validation import check_int, check_positive

Tensor = torch.Tensor
METHODS = ("mean", "median", "clip", "spp", "momentum")


@dataclass(frozen=True)
class RobustRuns:
    """``methods`` in the order of METHODS; ``steps`` [n] recorded (geometric); ``median_abs`` [n, M] the median
    over chains of |x_t|; ``tail_average`` [M, C] each chain's average of x_t over T/2 <= t < T; ``final`` [M, C]."""

    methods: tuple[str, ...]
    steps: Tensor
    median_abs: Tensor
    tail_average: Tensor
    final: Tensor

    @property
    def median_abs_tail_average(self) -> Tensor:
        """Median over chains of |tail average| per method [M] (a median: the mean need not exist)."""
        return self.tail_average.abs().median(1).values


def robust_sgd(steps: int = 4000, chains: int = 256, batch_size: int = 5, step_size: float = 0.05,
               clip_threshold: float = 1.0, tau: float = 1.0, beta: float = 0.9, x0: float = 5.0,
               smoothness: float = 1.0, seed: int = 0, threads: int | None = 1, device=None) -> RobustRuns:
    """The five directions of the module docstring on g_i = L x + (1 + |x|) xi_i (float64, seeded; on ``device``,
    None: :func:`steplab.device.resolve_device` for the 5 x chains x batch draws of a step)."""
    check_int("steps", steps, 2)
    check_int("chains", chains, 1)
    check_int("batch_size", batch_size, 1)
    for name, value in (("step_size", step_size), ("clip_threshold", clip_threshold), ("tau", tau),
                        ("smoothness", smoothness)):
        check_positive(name, value)
    if not 0 <= beta < 1:
        raise ValueError(f"beta must be in [0, 1), got {beta!r}")
    m_count = len(METHODS)
    device = resolve_device(device, work_items=m_count * chains * batch_size)
    generator = make_generator(seed, device)
    x = torch.full((m_count, chains), float(x0), dtype=torch.float64, device=device)
    estimate = torch.zeros_like(x)  # m of spp (row 3) and momentum (row 4)
    tail = torch.zeros_like(x)
    grid = sorted({int(round(10 ** (i * math.log10(steps) / 59))) for i in range(60)})  # 60 log-spaced steps
    kept_steps, kept = [0], [x.abs().median(1).values]
    with cpu_threads(threads):
        for t in range(steps):
            if t >= steps // 2:
                tail += x
            u = torch.rand((m_count, chains, batch_size), generator=generator, dtype=torch.float64, device=device)
            g = smoothness * x.unsqueeze(-1) + (1 + x.abs().unsqueeze(-1)) * cauchy_draw(u, 1.0)  # L x + (1+|x|) xi
            first = g[..., 0]
            spp = estimate[3] + (first[3] - estimate[3]).clamp(-tau, tau)  # m + clip_tau(g - m)
            momentum = beta * estimate[4] + (1 - beta) * first[4]  # beta m + (1 - beta) g
            direction = torch.stack([g[0].mean(-1),  # (1/b) sum_i g_i
                                     g[1].median(-1).values,  # median_i g_i
                                     first[2].clamp(-clip_threshold, clip_threshold),  # clip_c(g_1)
                                     spp, momentum])
            estimate = torch.stack([estimate[0], estimate[1], estimate[2], spp, momentum])
            x = x - step_size * direction  # x <- x - eta d_t
            if t + 1 in grid:
                kept_steps.append(t + 1)
                kept.append(x.abs().median(1).values)
    return RobustRuns(METHODS, torch.tensor(kept_steps, device=device), torch.stack(kept),
                      tail / (steps - steps // 2), x)
