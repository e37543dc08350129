"""Figures of the clipping family (notebook 01): each takes an ``ax`` and arrays, or the result of an
experiment of ``steplab.clipping.experiments`` (or a :class:`~steplab.clipping.simulate.BiasResult`), and draws.

Theory curves are passed in as functions of c (``predicted_fn``, ``curves``) and evaluated on the plotted
grid; no plot runs a simulation."""

from __future__ import annotations

import math

import numpy as np
import torch

from steplab.plots import COLORS, legend, to_numpy


def label_c(c: float) -> str:
    """A legend label for threshold c: ``'c = 0.5'``, or ``'no clipping'`` for c = inf."""
    return "no clipping" if math.isinf(c) else f"c = {c:g}"


def gradient_norm_curves(ax, grad_norm, thresholds, tolerances=(1e-2, 1e-8), title: str = ""):
    """||grad f(x_t)|| against t for each run (log y), with the tolerance levels dashed."""
    values = to_numpy(grad_norm)
    for r, c in enumerate(to_numpy(thresholds)):
        y = values[:, r]
        reached = np.flatnonzero(y <= min(tolerances))
        y = y[: reached[0] + 1] if reached.size else y  # stop each run at the smallest tolerance
        ax.plot(np.arange(len(y)), np.where(y > 0, y, np.nan), color=COLORS[r % len(COLORS)], label=label_c(c))
    for eps in tolerances:
        ax.axhline(eps, color="grey", ls="--", lw=0.8)
    ax.set_yscale("log")
    ax.set_xlabel("iteration t")
    ax.set_ylabel(r"$\|\nabla f(x_t)\|$")
    ax.set_title(title)
    legend(ax)
    return ax


def iterations_vs_threshold(ax, e1, formula):
    """E1 (an ``experiments.Offset``): T(c, 1e-2) and T(c, 1e-8) against c, ``formula(c, eps)`` on a dense
    grid of c (lines) and the runs (markers): two parallel curves, 20 iterations apart."""
    c = to_numpy(e1.clip_threshold)
    finite = np.isfinite(c)
    dense = torch.logspace(math.log10(0.4), math.log10(12), 200, dtype=torch.float64)
    for j, eps in enumerate((1e-2, 1e-8)):
        ax.plot(to_numpy(dense), to_numpy(formula(dense, eps)), color=COLORS[j],
                label=f"formula, ε = {eps:g}")
        ax.plot(c[finite], to_numpy(e1.measured[:, j])[finite], "o", color=COLORS[j], label=f"run, ε = {eps:g}")
    ax.set_xscale("log")
    ax.set_xlabel("clipping threshold c")
    ax.set_ylabel("iterations T(c, ε)")
    ax.set_title("clipping adds an ε-independent offset")
    legend(ax)
    return ax


def bias_vs_threshold(ax, c, measured, predicted_fn, c_range=(0.05, 10.0), curves: dict | None = None,
                      title: str = "", errors=None):
    """Measured bias (markers) against c with the theory ``predicted_fn(c)`` and optional extra curves."""
    dense = torch.logspace(math.log10(c_range[0]), math.log10(c_range[1]), 300, dtype=torch.float64)
    ax.plot(to_numpy(dense), to_numpy(predicted_fn(dense)), color=COLORS[0], label="theory (mean-field root)")
    for k, (name, fn) in enumerate((curves or {}).items()):
        ax.plot(to_numpy(dense), to_numpy(fn(dense)), color=COLORS[(k + 2) % len(COLORS)], ls="--", label=name)
    yerr = None if errors is None else 2 * to_numpy(errors)
    ax.errorbar(to_numpy(c), to_numpy(measured), yerr=yerr, fmt="o", color=COLORS[1], label="simulation (256 chains)")
    ax.set_xscale("log")
    ax.set_xlabel("clipping threshold c")
    ax.set_ylabel(r"bias $|\nabla f(\bar x)|$")
    ax.set_title(title)
    legend(ax)
    return ax


def chain_mean_paths(ax, result, labels, predicted=None, title: str = ""):
    """L * (mean over chains of x_t) against t, one curve per configuration; theory levels dotted."""
    steps = to_numpy(result.trace_steps)
    path = result.smoothness * to_numpy(result.mean_path)[:, :, 0]
    for k, label in enumerate(labels):
        ax.plot(np.maximum(steps, 1), path[:, k], color=COLORS[k % len(COLORS)], label=label)
        if predicted is not None:
            ax.axhline(float(predicted[k]), color=COLORS[k % len(COLORS)], ls=":", lw=1)
    ax.axvline(result.burn_in, color="grey", ls="--", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("step t (dashed: start of the tail average)")
    ax.set_ylabel(r"$L\,\mathrm{mean}_{\mathrm{chains}}\, x_t$")
    ax.set_title(title)
    legend(ax, outside=True)
    return ax


def bias_vs_batch_size(ax, e3b):
    """E3 (an ``experiments.BatchSizes``): per-sample clipping's bias is flat in b, batch clipping's falls
    like O(sigma^2/(b c)); measured values below 1e-5 are drawn at 1e-5 (log axis)."""
    b = to_numpy(e3b.batch_size)
    ax.plot(b, to_numpy(e3b.per_sample_theory), color=COLORS[0], label="per-sample, theory")
    ax.plot(b, to_numpy(e3b.per_sample), "o", color=COLORS[0], label="per-sample, simulation")
    ax.plot(b, to_numpy(e3b.batch_theory), color=COLORS[1], label="batch, theory (binomial root)")
    ax.plot(b, np.maximum(to_numpy(e3b.batch), 1e-5), "s", color=COLORS[1], label="batch, simulation")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("batch size b")
    ax.set_ylabel(r"bias $|\nabla f(\bar x)|$ (log)")
    ax.set_title("c = 1: per-sample vs batch clipping")
    legend(ax)
    return ax


def heavy_tail_paths(ax, result, chain: int = 0):
    """E5: one chain's x_t under Cauchy noise, clipped vs plain (symmetric log scale)."""
    steps = to_numpy(result.trace_steps)
    paths = to_numpy(result.paths)
    for k, c in enumerate(to_numpy(result.clip_threshold)):
        ax.plot(steps, paths[:, k, chain, 0], color=COLORS[k], label=label_c(float(c)))
    ax.set_yscale("symlog", linthresh=1.0)
    ax.set_xlabel("step t")
    ax.set_ylabel(r"$x_t$ (symlog)")
    ax.set_title("Cauchy noise: plain SGD wanders, clipped SGD settles")
    legend(ax, outside=True)
    return ax


def median_tracker_picture(axes, e6, chain: int = 0, shown: int = 3000, zoom=((-0.5, 4.0), (-1.0, 3.0))):
    """E6 (an ``experiments.MedianTracking``): the first ``shown`` gradient samples, the SPP median tracker's
    and the running mean's paths for one chain.

    ``axes`` is a pair: the whole sample, and a zoom (``zoom`` = (xlim, ylim)) around the two limits."""
    stream = to_numpy(e6.stream[:shown, chain])
    median = to_numpy(e6.paths.median[:, chain])
    mean = to_numpy(e6.paths.mean[:, chain])
    gm, mu = to_numpy(e6.geometric_median), to_numpy(e6.mean)
    for k, ax in enumerate(axes):
        ax.scatter(stream[:, 0], stream[:, 1], s=2, color="grey", alpha=0.3, label="gradient samples")
        ax.plot(median[:, 0], median[:, 1], color=COLORS[0], lw=1.2, label="SPP median tracker")
        ax.plot(mean[:, 0], mean[:, 1], color=COLORS[1], lw=1.2, label="running mean")
        ax.plot(*gm, "*", ms=14, color=COLORS[0], mec="k", label="geometric median")
        ax.plot(*mu, "P", ms=11, color=COLORS[1], mec="k", label="mean")
        ax.set_xlabel("$g_1$")
        ax.set_ylabel("$g_2$")
        ax.set_aspect("equal")
        if k == 1:
            ax.set_xlim(*zoom[0])
            ax.set_ylim(*zoom[1])
            ax.set_title("zoom: where each estimate ends")
        else:
            ax.set_title("samples: 90% near (1, 0), 10% near (20, 20)")
            legend(ax, outside=True)
    return axes


def rate_curves(ax, e7):
    """E7 (an ``experiments.Rate``): E||grad f(x_t)|| over t (log-log), one colour per (c, eta), with each run's
    floor (dotted) and stationary sqrt(floor^2 + variance) (dashed) drawn as levels."""
    steps = np.maximum(to_numpy(e7.steps), 1)
    norms, floors, rms = to_numpy(e7.mean_norm), to_numpy(e7.floor), to_numpy(e7.stationary_rms)
    for r, (c, eta) in enumerate(zip(to_numpy(e7.clip_threshold), to_numpy(e7.step_size))):
        color = COLORS[r % len(COLORS)]
        ax.plot(steps, norms[:, r], color=color, label=f"{label_c(float(c))}, η = {eta:g}")
        ax.axhline(rms[r], color=color, ls="--", lw=0.9)
        if floors[r] > 0:
            ax.axhline(floors[r], color=color, ls=":", lw=1.2)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("step t")
    ax.set_ylabel(r"$\mathbb{E}\,|\nabla f(x_t)|$ (1024 chains, log)")
    ax.set_title("dashed: √(floor² + variance part); dotted: floor 1/9")
    legend(ax, loc="upper right")
    return ax


def safe_and_best_steps(ax, e2_steps):
    """E2 (an ``experiments.FixedSteps``): plain GD's |f'(x_t)| with 2/cosh(10) and with the sweep's best step."""
    labels = (f"η = 2/cosh(10): {e2_steps.safe_iterations:,} its",
              f"best of the sweep, η = {float(e2_steps.step_size[e2_steps.best]):.3g}")
    for k, label in enumerate(labels):
        y = to_numpy(e2_steps.grad_norm[:, k])
        reached = np.flatnonzero(y <= 1e-6)
        y = y[: reached[0] + 1] if reached.size else y  # stop each run at the tolerance |f'| <= 1e-6
        ax.plot(np.arange(len(y)), y, color=COLORS[3 + k], label=label)
    ax.axhline(1e-6, color="grey", ls="--", lw=0.8)
    ax.set(yscale="log", xlabel="iteration t", ylabel=r"$|f'(x_t)|$", title="plain GD on cosh, fixed steps")
    legend(ax)
    return ax


def robust_sgd_paths(ax, runs):
    """E8 (a ``robust.RobustRuns``): the median over chains of |x_t| against t (log-log), one colour per method."""
    labels = {"mean": "SGD, mean of 5 samples", "median": "SGD, median of 5 samples", "clip": "clipped SGD, c = 1",
              "spp": "SPP median tracker, τ = 1", "momentum": "heavy ball, β = 0.9 (running mean)"}
    steps = np.maximum(to_numpy(runs.steps), 1)
    values = to_numpy(runs.median_abs)
    for k, method in enumerate(runs.methods):
        ax.plot(steps, values[:, k], color=COLORS[k % len(COLORS)], label=labels[method])
    ax.set(xscale="log", yscale="log", xlabel="step t", ylabel=r"median over chains of $|x_t|$ (log)",
           title="heavy-tailed, state-dependent noise g = x + (1 + |x|) ξ")
    legend(ax, outside=True)
    return ax
