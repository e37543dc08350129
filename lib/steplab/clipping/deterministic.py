"""Deterministic clipped GD: iterations until ||grad f|| <= eps, for many runs at once (brief E1, E2).

    x_{t+1} = x_t - eta clip_c(grad f(x_t)),   clip_c(g) = min(1, c/||g||) g
    (Koloskova, Hendrikx, Stich 2023, eq. 2; c = inf is plain GD)

Step sizes and thresholds are per-run tensors; the loop stops as soon as every run has reached the
smallest tolerance or diverged, so the 80k-step plain-GD run on cosh costs seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from steplab.clipping.theory import check_threshold
from steplab.device import cpu_threads
from steplab.problems import Cosh, Quadratic
from steplab.transforms import clip_factor, run_norm
from steplab.validation import check_int, check_positive

Tensor = torch.Tensor


@dataclass
class HittingTimes:
    """iterations: [R, E] first t with ||grad f(x_t)|| <= tolerances[e] (x_0 is t = 0), -1 if never;
    diverged_at: [R] first t with a non-finite gradient or ||x_t|| > max_iterate, -1 if never;
    grad_norm: [S + 1, R] ||grad f(x_t)|| for the steps run (NaN after divergence); final: x at the end."""

    tolerances: Tensor
    iterations: Tensor
    diverged_at: Tensor
    grad_norm: Tensor
    final: Tensor

    def tail(self, small: int = -1, large: int = 0) -> Tensor:
        """Iterations from the ``large`` tolerance down to the ``small`` one (e.g. 1e-2 -> 1e-8), per run."""
        return self.iterations[:, small] - self.iterations[:, large]


def hitting_times(problem, x0: Tensor, step_size, clip_threshold, tolerances=(1e-2, 1e-8), *,
                  max_steps: int = 100_000, max_grad_norm: float = float("inf"), chunk: int = 512,
                  threads: int | None = 1) -> HittingTimes:
    """Run clipped GD on ``problem`` from ``x0`` ([R, d]) until every run meets min(tolerances) or diverges.

    ``step_size`` and ``clip_threshold`` are numbers or [R] tensors (``inf`` = no clipping).
    A run *diverges* at the first t where ||grad f(x_t)|| is not finite or exceeds ``max_grad_norm``
    (for cosh that is |x_t| > 710 in float64).  The loop runs ``chunk`` plain steps between bookkeeping
    passes, which find the first crossings from the recorded norms.
    """
    check_positive("step_size", step_size)
    check_threshold(clip_threshold)
    check_int("max_steps", max_steps, 1)
    check_int("chunk", chunk, 1)
    tolerances = torch.as_tensor(tolerances, dtype=torch.float64).reshape(-1)
    check_positive("tolerances", tolerances)
    if x0.ndim != 2:
        raise ValueError(f"x0 must have shape [runs, dim], got {tuple(x0.shape)}")
    runs = x0.shape[0]
    eta = torch.as_tensor(step_size, dtype=x0.dtype).expand(runs).reshape(runs, 1)
    c = torch.as_tensor(clip_threshold, dtype=x0.dtype).expand(runs)
    c = torch.where(torch.isinf(c), torch.full_like(c, torch.finfo(x0.dtype).max), c)
    x = x0.clone()
    norms = x0.new_full((max_steps + 1, runs), float("nan"))
    with cpu_threads(threads):
        done = 0
        while done <= max_steps:
            stop = min(done + chunk, max_steps + 1)
            for t in range(done, stop):
                _, grad = problem.oracle(x)
                norm = run_norm(grad)
                norms[t] = norm
                x = x - grad * (eta * clip_factor(norm, c).unsqueeze(1))
            done = stop
            block = norms[:done]
            diverged = ~torch.isfinite(block).all(0) | (block > max_grad_norm).any(0)
            finished = (block <= tolerances.min()).any(0) | diverged
            if bool(finished.all()):
                break
    norms = norms[:done]
    steps = torch.arange(done).unsqueeze(1)
    bad = ~torch.isfinite(norms) | (norms > max_grad_norm)
    diverged_at = torch.where(bad.any(0), torch.where(bad, steps, done).amin(0), -1)
    alive_at = torch.where(diverged_at.unsqueeze(0) >= 0, steps < diverged_at.unsqueeze(0), True)  # [S, R]
    norms = torch.where(alive_at, norms, torch.full_like(norms, float("nan")))
    hit = (norms.unsqueeze(-1) <= tolerances) & alive_at.unsqueeze(-1)  # [S, R, E]
    first = torch.where(hit, steps.unsqueeze(-1), done).amin(0)
    iterations = torch.where(hit.any(0), first, -1)
    return HittingTimes(tolerances, iterations, diverged_at, norms, x)


def quadratic_hitting_times(clip_threshold, tolerances=(1e-2, 1e-8), step_size: float = 0.25,
                            smoothness: float = 2.0, start=(30.0, 40.0)) -> HittingTimes:
    """Brief E1: f = (L/2)||x||^2 with L = 2, eta = 0.25, x_0 = (30, 40) (||grad f(x_0)|| = 100), one run per c."""
    c = torch.as_tensor(clip_threshold, dtype=torch.float64).reshape(-1)
    x0 = torch.tensor(start, dtype=torch.float64).repeat(c.numel(), 1)
    problem = Quadratic([smoothness] * x0.shape[1])
    return hitting_times(problem, x0, step_size, c, tolerances, max_steps=100_000)


def cosh_hitting_times(step_size, clip_threshold, tolerances=(1e-2, 1e-6, 1e-8), start: float = 10.0,
                       max_steps: int = 100_000) -> HittingTimes:
    """Brief E2: f(x) = cosh(x) - 1 ((1, 1)-smooth, not L-smooth) from x_0 = 10, one run per (eta, c) pair."""
    eta, c = torch.broadcast_tensors(torch.as_tensor(step_size, dtype=torch.float64).reshape(-1),
                                     torch.as_tensor(clip_threshold, dtype=torch.float64).reshape(-1))
    x0 = torch.full((eta.numel(), 1), float(start), dtype=torch.float64)
    return hitting_times(Cosh(), x0, eta.contiguous(), c.contiguous(), tolerances, max_steps=max_steps)
