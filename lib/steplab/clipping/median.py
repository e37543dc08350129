"""Clipping as median estimation (Schaipp, Garrigos, Simsekli, Gower 2024, "SGSG").

Stochastic proximal point (SPP) with step tau on the geometric-median objective min_m E||m - g|| is

    m_t = prox_{tau ||. - g_t||}(m_{t-1}) = m_{t-1} + clip_tau(g_t - m_{t-1})

so clipped SGD is one SPP step started from m = 0, and keeping m across iterations gives a robust
running estimate, the median counterpart of heavy-ball momentum (whose EMA m <- m + (1-beta)(g - m) is
an SGD step on 1/2 ||m - g||^2 and tracks the mean).  The fixed point of SPP solves
E[(m - g)/||m - g||] = 0: the geometric median, computed here on a fixed sample by Weiszfeld's iteration.
(The prox identity: minimising tau ||m - g|| + ||m - m_{t-1}||^2 / 2 moves m_{t-1} towards g by
min(tau, ||g - m_{t-1}||), which is the clip of the residual.)

Why :func:`track` is its own loop and not ``steplab.trajectory.run``: it reads a fixed stream of samples
(g_t is data, not an oracle at x) with a step-dependent tau_t, and ``run`` would need a stateful problem
returning the next sample plus a step-counting transform; written that way (the running mean alongside,
as here) it took 2.2x as long (1.09 s vs 0.50 s for 16 chains x 20,000 samples, one torch thread, measured
side by side with ``.venv/bin/python benchmarks/bench_clipping_driver.py``). :func:`median_tracker` is the
same update as a gradient transform, for ``run``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from steplab.device import cpu_threads, host_check_interval, make_generator
from steplab.transforms import GradientTransform, PerRun, clip_factor, run_norm
from steplab.validation import check_int, check_positive, check_range

Tensor = torch.Tensor


def contaminated_gradients(samples: int, runs: int = 1, outlier_probability: float = 0.1,
                           inlier_mean=(1.0, 0.0), outlier_mean=(20.0, 20.0), std: float = 1.0, seed: int = 0,
                           dtype=torch.float64, device=None) -> Tensor:
    """Gradient samples from (1-p) N(inlier_mean, std^2 I) + p N(outlier_mean, std^2 I): [samples, runs, d].

    Experiment E6 uses p = 0.1, (1, 0) and (20, 20): mean (2.9, 2.0); geometric median ~ (1.12, 0.13) (our
    regression value, Weiszfeld on 100,000 samples).
    The whole vector is an outlier or not (unlike the per-coordinate ``GaussianMixtureNoise``). The stream is a
    data set drawn once: on the CPU (the same on every machine), then moved to ``device`` (None: the CPU).
    """
    check_int("samples", samples, 1)
    check_int("runs", runs, 1)
    check_range("outlier_probability", outlier_probability, 0.0, 1.0, low_inclusive=False, high_inclusive=False)
    check_positive("std", std)
    generator = make_generator(seed, "cpu")
    inlier = torch.as_tensor(inlier_mean, dtype=dtype)
    outlier = torch.as_tensor(outlier_mean, dtype=dtype)
    hit = torch.rand(samples, runs, 1, generator=generator, dtype=dtype) < outlier_probability
    z = torch.randn(samples, runs, inlier.numel(), generator=generator, dtype=dtype)
    stream = torch.where(hit, outlier, inlier) + std * z
    return stream if device is None else stream.to(device)


def mixture_mean(outlier_probability: float = 0.1, inlier_mean=(1.0, 0.0), outlier_mean=(20.0, 20.0),
                 device=None) -> Tensor:
    """(1-p) inlier_mean + p outlier_mean, the point the running mean converges to (on ``device``, default CPU)."""
    p = outlier_probability
    f64 = dict(dtype=torch.float64, device=device)
    return (1 - p) * torch.as_tensor(inlier_mean, **f64) + p * torch.as_tensor(outlier_mean, **f64)


def weiszfeld(points: Tensor, iterations: int = 500, tol: float = 1e-12) -> Tensor:
    """Geometric median argmin_m sum_i ||m - p_i|| of ``points`` [N, d] (or [N, R, d], one per run).

    Weiszfeld (1937): m <- sum_i w_i p_i / sum_i w_i with w_i = 1/||m - p_i||, started at the mean; stops
    when no estimate moves by ``tol`` or after ``iterations`` (distances floored at 1e-12). The stop is checked
    every :func:`steplab.device.host_check_interval` iterations (every one on the CPU).
    """
    check_int("iterations", iterations, 1)
    median = points.mean(0)
    interval = host_check_interval(points.device)
    for i in range(iterations):
        distance = torch.linalg.vector_norm(points - median, dim=-1).clamp(min=1e-12)
        weights = (1.0 / distance).unsqueeze(-1)
        new = (weights * points).sum(0) / weights.sum(0)  # sum_i w_i p_i / sum_i w_i
        converged = (i + 1) % interval == 0 and bool((torch.linalg.vector_norm(new - median, dim=-1) < tol).all())
        median = new
        if converged:
            break
    return median


@dataclass
class TrackerPaths:
    """Estimates over time: ``median``/``mean`` are [n, R, d] at ``steps`` [n]; ``final_*`` are [R, d] at
    step ``steps[-1]`` (pass the paths as ``resume=`` to go on with more samples)."""

    steps: Tensor
    median: Tensor
    mean: Tensor
    final_median: Tensor
    final_mean: Tensor


def track(samples: Tensor, tau0: float = 1.0, record_every: int = 50, threads: int | None = 1,
          resume: TrackerPaths | None = None) -> TrackerPaths:
    """Run the SPP median tracker and the running mean on a stream of samples [T, R, d] (R chains).

        median:  m_t = m_{t-1} + clip_{tau_t}(g_t - m_{t-1}),  tau_t = tau0 / sqrt(t)     (SGSG 2024)
        mean:    a_t = a_{t-1} + (g_t - a_{t-1}) / t                                    (the EMA limit)

    Both start at 0.  m_1 = clip_{tau0}(g_1): the first step is exactly clipped SGD's gradient.
    The paths are kept at every step up to ``record_every`` and every ``record_every`` steps after.
    ``resume``: the paths of a previous call; the estimates go on from its final values and step count
    (``samples`` are then g_{t0+1}, g_{t0+2}, ...), as one call on the joined stream would. Runs on the
    samples' device.
    """
    check_positive("tau0", tau0)
    check_int("record_every", record_every, 1)
    if samples.ndim != 3:
        raise ValueError(f"samples must have shape [T, runs, d], got {tuple(samples.shape)}")
    begin = 0 if resume is None else int(resume.steps[-1])
    steps = begin + samples.shape[0]
    median = torch.zeros_like(samples[0]) if resume is None else resume.final_median.clone()
    mean = torch.zeros_like(samples[0]) if resume is None else resume.final_mean.clone()
    kept_steps, kept_median, kept_mean = [begin], [median.clone()], [mean.clone()]
    with cpu_threads(threads):
        for t in range(begin + 1, steps + 1):
            g = samples[t - begin - 1]
            residual = g - median
            median = median + residual * clip_factor(run_norm(residual), tau0 / t**0.5).unsqueeze(-1)  # m + clip(g - m)
            mean = mean + (g - mean) / t  # a + (g - a) / t
            if t <= record_every or t % record_every == 0 or t == steps:  # every step early on
                kept_steps.append(t)
                kept_median.append(median.clone())
                kept_mean.append(mean.clone())
    return TrackerPaths(torch.tensor(kept_steps, device=samples.device), torch.stack(kept_median),
                        torch.stack(kept_mean), median, mean)


def median_tracker(tau) -> GradientTransform:
    """A gradient transform that replaces g by the SPP median estimate m (SGSG 2024).

        m_t = m_{t-1} + clip_tau(g_t - m_{t-1}),  update u_t = m_t,  m_0 = 0

    Chain it with ``scale(lr)``: the median counterpart of ``chain(heavy_ball(beta), scale(lr))``.
    ``tau`` is a number or a [runs] tensor.
    """
    check_positive("tau", tau)
    tau_per_run = PerRun(tau)  # moved to the runs' device once

    def init(params):
        return torch.zeros_like(params)

    def update(grads, estimate, params=None, info=None):
        residual = grads - estimate
        norms = run_norm(residual)
        factor = clip_factor(norms, tau_per_run.like(norms, 0))
        estimate = estimate + residual * factor.reshape(-1, *([1] * (grads.ndim - 1)))  # m + clip_tau(g - m)
        if info is not None:
            info["grad_norm"] = run_norm(grads)
            info["clipped_grad_norm"] = run_norm(estimate)
        return estimate, estimate

    return GradientTransform(init, update, "median_tracker")
