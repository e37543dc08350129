"""Deterministic clipped GD: iterations until ||grad f|| <= eps, for many runs at once (experiments E1, E2).

    x_{t+1} = x_t - eta clip_c(grad f(x_t)),   clip_c(g) = min(1, c/||g||) g
    (Koloskova, Hendrikx, Stich 2023, eq. 2; c = inf is plain GD)

Step sizes and thresholds are per-run tensors; the loop stops as soon as every run has reached the
smallest tolerance or diverged, so the 80k-step plain-GD run on cosh costs seconds. A result resumes
(``resume=``) where it stopped.

Why not ``steplab.trajectory.run``: the driver evaluates the loss, a divergence mask and two norms per
step, where this loop needs only ||grad f(x_t)||. Driving the same 20,000-step cosh run through ``run``
(resumed in 512-step chunks, as the early stop needs) took 1.8x as long (0.92 s vs 0.50 s, one torch
thread, measured side by side with ``.venv/bin/python benchmarks/bench_clipping_driver.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from steplab.device import cpu_threads, resolve_device
from steplab.problems import Cosh, Quadratic
from steplab.transforms import clip_factor, run_norm
from steplab.validation import check_int, check_positive, check_threshold

Tensor = torch.Tensor


@dataclass
class HittingTimes:
    """iterations: [R, E] first t with ||grad f(x_t)|| <= tolerances[e] (x_0 is t = 0), -1 if never;
    diverged_at: [R] first t with a non-finite gradient or ||grad f(x_t)|| > max_grad_norm, -1 if never;
    grad_norm: [S, R] ||grad f(x_t)|| for t = 0..S-1, the S steps run (NaN from divergence on);
    final: x_S, where the next call with ``resume=`` starts."""

    tolerances: Tensor
    iterations: Tensor
    diverged_at: Tensor
    grad_norm: Tensor
    final: Tensor

    @property
    def steps(self) -> int:
        """S, the number of steps run (and of gradient norms recorded)."""
        return self.grad_norm.shape[0]

    def tail(self, small: int = -1, large: int = 0) -> Tensor:
        """Iterations from the ``large`` tolerance down to the ``small`` one (e.g. 1e-2 -> 1e-8), per run."""
        return self.iterations[:, small] - self.iterations[:, large]


def hitting_times(problem, x0: Tensor, step_size, clip_threshold, tolerances=(1e-2, 1e-8), *,
                  max_steps: int = 100_000, max_grad_norm: float = float("inf"), chunk: int = 512,
                  threads: int | None = 1, resume: HittingTimes | None = None) -> HittingTimes:
    """Run clipped GD on ``problem`` from ``x0`` ([R, d]) until every run meets min(tolerances) or diverges.

    ``step_size`` and ``clip_threshold`` are numbers or [R] tensors (``inf`` = no clipping).
    A run *diverges* at the first t where ||grad f(x_t)|| is not finite or exceeds ``max_grad_norm``
    (for cosh that is |x_t| > 710 in float64).  The loop runs ``chunk`` plain steps between bookkeeping
    passes, which find the first crossings from the recorded norms. ``resume``: a previous result (same
    problem, runs and tolerances, ``max_steps`` the new total): the runs go on from its ``final`` at its
    step count (x0 only gives the shape and the device); iterations and divergence steps are those of a single
    call, which may have stopped up to ``chunk`` steps earlier or later.
    """
    check_positive("step_size", step_size)
    check_threshold("clip_threshold", clip_threshold)
    check_int("max_steps", max_steps, 1)
    check_int("chunk", chunk, 1)
    tolerances = torch.as_tensor(tolerances, dtype=torch.float64, device=x0.device).reshape(-1)  # the loop's device
    check_positive("tolerances", tolerances)
    if x0.ndim != 2:
        raise ValueError(f"x0 must have shape [runs, dim], got {tuple(x0.shape)}")
    runs = x0.shape[0]
    eta = torch.as_tensor(step_size, dtype=x0.dtype, device=x0.device).expand(runs).reshape(runs, 1)
    c = torch.as_tensor(clip_threshold, dtype=x0.dtype, device=x0.device).expand(runs)  # inf: plain GD
    norms = x0.new_full((max_steps + 1, runs), float("nan"))
    x, done = x0.clone(), 0
    if resume is not None:
        if resume.final.shape != x0.shape or not torch.equal(resume.tolerances, tolerances):
            raise ValueError("resume must come from a call with the same runs and tolerances")
        x, done = resume.final.clone(), resume.steps
        norms[:done] = resume.grad_norm

    def all_finished(done: int) -> bool:
        block = norms[:done]
        diverged = ~torch.isfinite(block).all(0) | (block > max_grad_norm).any(0)
        return bool(((block <= tolerances.min()).any(0) | diverged).all())

    with cpu_threads(threads):
        while done <= max_steps and not (done and all_finished(done)):
            stop = min(done + chunk, max_steps + 1)
            for t in range(done, stop):
                _, grad = problem.oracle(x)
                norm = run_norm(grad)
                norms[t] = norm
                x = x - grad * (eta * clip_factor(norm, c).unsqueeze(1))  # x - eta min(1, c/||g||) g
            done = stop
    norms = norms[:done]
    steps = torch.arange(done, device=x0.device).unsqueeze(1)
    bad = ~torch.isfinite(norms) | (norms > max_grad_norm)
    diverged_at = torch.where(bad.any(0), torch.where(bad, steps, done).amin(0), -1)
    alive_at = torch.where(diverged_at.unsqueeze(0) >= 0, steps < diverged_at.unsqueeze(0), True)  # [S, R]
    norms = torch.where(alive_at, norms, torch.full_like(norms, float("nan")))
    hit = (norms.unsqueeze(-1) <= tolerances) & alive_at.unsqueeze(-1)  # [S, R, E]
    first = torch.where(hit, steps.unsqueeze(-1), done).amin(0)
    iterations = torch.where(hit.any(0), first, -1)
    return HittingTimes(tolerances, iterations, diverged_at, norms, x)


def quadratic_hitting_times(clip_threshold, tolerances=(1e-2, 1e-8), step_size: float = 0.25,
                            smoothness: float = 2.0, start=(30.0, 40.0), device=None) -> HittingTimes:
    """E1: f = (L/2)||x||^2 with L = 2, eta = 0.25, x_0 = (30, 40) (||grad f(x_0)|| = 100), one run per c."""
    c = torch.as_tensor(clip_threshold, dtype=torch.float64).reshape(-1)
    device = resolve_device(device, work_items=c.numel() * len(start))
    x0 = torch.tensor(start, dtype=torch.float64, device=device).repeat(c.numel(), 1)
    problem = Quadratic([smoothness] * x0.shape[1], device=device)
    return hitting_times(problem, x0, step_size, c, tolerances, max_steps=100_000)


def cosh_hitting_times(step_size, clip_threshold, tolerances=(1e-2, 1e-6, 1e-8), start: float = 10.0,
                       max_steps: int = 100_000, device=None) -> HittingTimes:
    """E2: f(x) = cosh(x) - 1 ((1, 1)-smooth, not L-smooth) from x_0 = 10, one run per (eta, c) pair."""
    eta, c = torch.broadcast_tensors(torch.as_tensor(step_size, dtype=torch.float64).reshape(-1),
                                     torch.as_tensor(clip_threshold, dtype=torch.float64).reshape(-1))
    device = resolve_device(device, work_items=eta.numel())
    x0 = torch.full((eta.numel(), 1), float(start), dtype=torch.float64, device=device)
    return hitting_times(Cosh(device=device), x0, eta.contiguous(), c.contiguous(), tolerances, max_steps=max_steps)
