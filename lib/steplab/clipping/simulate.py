"""The stationary-bias simulator: K configurations x C chains of clipped SGD on a quadratic, one tensor program.

``simulate_bias`` runs 1-D (or d-D) clipped SGD on f(x) = (L/2)||x||^2 with additive noise for every
configuration and chain at once (no loop over configurations) and tail-averages the iterates. The
*measured bias* is ||L * (mean over chains of each chain's average of x_t over the tail window)||, the
window being :func:`tail_window` (burn_in <= t < T, burn_in = T // 2 by default); the clipping page of
the dashboard measures its live runs with the same window through :func:`measured_bias`.

Why not ``steplab.trajectory.run``: the driver computes the loss, both gradient norms and a divergence
check at every step and keeps iterates to be averaged afterwards; this loop only draws the noise (in
blocks of up to 256 steps), clips and accumulates the tail sum. The same 5 x 256-chain, 4000-step sweep
written on ``run`` took 4.9x as long (0.64 s vs 0.13 s, one torch thread, measured side by side with
``.venv/bin/python benchmarks/bench_clipping_driver.py``). The clipping itself reuses
``steplab.transforms.clip_factor``. A result's ``state`` resumes the chains (:class:`BiasState`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from steplab.clipping.noise import batched_sampler
from steplab.device import cpu_threads, make_generator, resolve_device
from steplab.transforms import clip_factor, run_norm
from steplab.validation import check_int, check_positive, check_threshold

Tensor = torch.Tensor


def tail_window(steps: int, burn_in: int | None = None) -> range:
    """The steps t whose iterates x_t the measured bias averages: burn_in <= t < steps (burn_in = steps // 2)."""
    check_int("steps", steps, 1)
    burn_in = steps // 2 if burn_in is None else check_int("burn_in", burn_in, 0)
    if burn_in >= steps:
        raise ValueError(f"burn_in must be < steps = {steps}, got {burn_in}")
    return range(burn_in, steps)


def measured_bias(chain_mean: Tensor, burn_in: int | None = None, smoothness: float = 1.0) -> Tensor:
    """|L * average of the chain-mean path over :func:`tail_window`| per configuration, from a recorded path.

    ``chain_mean`` is [T + 1, ...]: row t is the mean over chains of x_t for t = 0..T (so x_T, outside the
    window, is not averaged). Returns the trailing shape ``[...]`` (1-D problems: one value per configuration).
    """
    window = tail_window(chain_mean.shape[0] - 1, burn_in)
    return (smoothness * chain_mean[window.start:window.stop].mean(0)).abs()  # |L mean_{t in window} x_t|


@dataclass
class BiasState:
    """Where :func:`simulate_bias` stopped; pass it back as ``state=`` (with ``steps`` > ``step``) to go on.

    x: [K, C, d] the chains at step ``step``; tail_sum: [K, C, d] sum of x_t over the window so far;
    max_abs: [K, C] max_t ||x_t||_inf so far; generator_state: the noise generator's state (copied, so one
    state can be resumed twice with the same draws)."""

    x: Tensor
    tail_sum: Tensor
    max_abs: Tensor
    step: int
    burn_in: int
    generator_state: Tensor


@dataclass
class BiasResult:
    """Output of :func:`simulate_bias`. K = configurations, C = chains, d = dimension, n = recorded steps.

    stationary_gradient: [K, d]     L * mean over chains of the chains' tail averages (signed)
    bias:                [K]        its norm, ||grad f(x_bar)|| (|.| in 1-D)
    standard_error:      [K]        std over chains of ||L * tail average|| / sqrt(C) (a rough error bar)
    tail_average:        [K, C, d]  each chain's average of x_t over t in [burn_in, steps)
    max_abs_iterate:     [K, C]     max_t ||x_t||_inf (how far plain SGD wanders under heavy tails)
    trace_steps:         [n]        steps at which ``mean_path``/``paths`` were recorded (this call's)
    mean_path:           [n, K, d]  mean over chains of x_t
    norm_path:           [n, K]     mean over chains of ||L x_t|| = E||grad f(x_t)|| (the rate)
    square_path:         [n, K]     mean over chains of ||L x_t||^2 (its variance part with ``mean_path``)
    paths:               [n, K, P, d]  the first P chains' x_t
    state:                          :class:`BiasState` to resume the chains from step ``steps``
    """

    clip_threshold: Tensor
    step_size: Tensor
    batch_size: Tensor
    per_sample: Tensor
    stationary_gradient: Tensor
    bias: Tensor
    standard_error: Tensor
    tail_average: Tensor
    max_abs_iterate: Tensor
    trace_steps: Tensor
    mean_path: Tensor
    norm_path: Tensor
    square_path: Tensor
    paths: Tensor
    steps: int
    burn_in: int
    smoothness: float
    state: BiasState | None = None


def _per_config(value, name: str, dtype) -> Tensor:
    tensor = torch.as_tensor(value, dtype=dtype)
    if tensor.ndim > 1:
        raise ValueError(f"{name} must be a number or a 1-D tensor with one entry per configuration")
    return tensor.reshape(-1)


def _broadcast_configs(**named: Tensor) -> tuple[int, dict[str, Tensor]]:
    sizes = {name: t.numel() for name, t in named.items() if t.numel() != 1}
    if len(set(sizes.values())) > 1:
        raise ValueError(f"per-configuration arguments disagree in length: {sizes}")
    k = next(iter(sizes.values()), 1)
    return k, {name: t.expand(k) if t.numel() == 1 else t for name, t in named.items()}


def simulate_bias(
    clip_threshold,
    step_size,
    noise,
    batch_size=1,
    per_sample=True,
    *,
    chains: int = 256,
    steps: int = 20_000,
    burn_in: int | None = None,
    smoothness: float = 1.0,
    dim: int = 1,
    coordinatewise: bool = False,
    x0: float = 0.0,
    seed: int = 0,
    device=None,
    dtype: torch.dtype = torch.float64,
    record_every: int | None = None,
    record_at: Sequence[int] | None = None,
    n_paths: int = 4,
    threads: int | None = 1,
    state: BiasState | None = None,
) -> BiasResult:
    """Clipped SGD x <- x - eta d_t on f = (L/2)||x||^2 with g_i = L x + xi_i, for K configs x C chains.

        per-sample clipping:  d_t = (1/b) sum_i clip_c(g_i)       (DP-SGD form; bias independent of b)
        batch clipping:       d_t = clip_c((1/b) sum_i g_i)       (bias O(sigma^2/(b c)))

    clip_c(g) = min(1, c/||g||) g (Koloskova, Hendrikx, Stich 2023, eqs. 2-3), or clamp(g, -c, c) per
    coordinate when ``coordinatewise``.  ``clip_threshold = inf`` is plain SGD.

    Args:
        clip_threshold, step_size, batch_size, per_sample: numbers or 1-D tensors with one entry per
            configuration (broadcast together); batch sizes may differ between configurations.
        noise: a noise model from ``steplab.problems`` (``TwoPointNoise``, ``ExpNoise``, ``CauchyNoise``,
            ``GaussianNoise``, ``GaussianMixtureNoise``), or a list of K models of one type (one per config).
            The noise is drawn independently for every coordinate and sample.
        chains: independent chains per configuration; steps: T; burn_in: default T // 2.
        record_every: keep the chain-mean path and ``n_paths`` chains every k steps (default ~200 points);
        record_at: or at these steps t (e.g. geometric ones for a log t axis; steps outside (begin, steps]
            are ignored), instead of every ``record_every``.
        dtype: float64 for asserted numbers, float32 for live pictures.
        device: where the chains run (None: :func:`steplab.device.resolve_device` for K * C * b * d numbers per
            step); the result's tensors are there, except the per-configuration inputs (CPU).
        threads: CPU threads for the loop (see :func:`cpu_threads`); ignored on CUDA.
        state: a previous result's ``state`` (same configurations, chains and dim): the chains go on from
            its step to ``steps`` with its noise stream and tail sum, ``burn_in`` defaults to its own, and
            ``seed``/``x0`` are not used. Bit-identical to one long call when the previous ``steps`` was a
            multiple of the noise block (256 steps unless K * C * b * d > 8192); otherwise the same law.
    """
    check_threshold("clip_threshold", clip_threshold)
    check_positive("step_size", step_size)
    check_positive("smoothness", smoothness)
    check_int("chains", chains, 1)
    check_int("steps", steps, 1)
    check_int("dim", dim, 1)
    if state is not None:
        if burn_in not in (None, state.burn_in):
            raise ValueError(f"burn_in must be the resumed state's {state.burn_in}, got {burn_in}")
        burn_in = state.burn_in
        if not state.step < steps:
            raise ValueError(f"steps must exceed the resumed state's step {state.step}, got {steps}")
    window = tail_window(steps, burn_in)
    burn_in = window.start
    b_values = torch.as_tensor(batch_size)
    if b_values.is_floating_point() or bool((b_values < 1).any()):
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    record_every = record_every or max(1, steps // 200)
    check_int("record_every", record_every, 1)
    recorded = None if record_at is None else {int(t) for t in record_at}

    k, cfg = _broadcast_configs(
        clip_threshold=_per_config(clip_threshold, "clip_threshold", torch.float64),
        step_size=_per_config(step_size, "step_size", torch.float64),
        batch_size=_per_config(batch_size, "batch_size", torch.long),
        per_sample=_per_config(per_sample, "per_sample", torch.bool),
    )
    if isinstance(noise, Sequence):
        if k == 1 and len(noise) > 1:
            k, cfg = len(noise), {name: t.expand(len(noise)) for name, t in cfg.items()}
        if len(noise) != k:
            raise ValueError(f"noise has {len(noise)} models but there are {k} configurations")
    b_max = int(cfg["batch_size"].max())
    device = resolve_device(device, work_items=k * chains * b_max * dim)
    sample = batched_sampler(noise, k, dtype, device)

    c = cfg["clip_threshold"].to(device, dtype)  # inf: no clipping (min(1, inf/||g||) = 1, clamp to +-inf)
    eta = cfg["step_size"].to(device, dtype).reshape(k, 1, 1)
    b = cfg["batch_size"].to(device)
    weights = (torch.arange(b_max, device=device) < b.unsqueeze(1)).to(dtype) / b.unsqueeze(1).to(dtype)
    weights = weights.reshape(k, 1, b_max, 1)
    per_sample_mask = cfg["per_sample"].to(device)
    modes = {bool(v) for v in cfg["per_sample"].tolist()} if b_max > 1 else {True}  # read on the host copy

    generator = make_generator(seed, device)
    if state is None:
        begin = 0
        x = torch.full((k, chains, dim), float(x0), dtype=dtype, device=device)
        tail_sum = torch.zeros_like(x)
        max_abs = x.abs().amax(-1)
    else:
        if tuple(state.x.shape) != (k, chains, dim):
            raise ValueError(f"state has chains of shape {tuple(state.x.shape)}, expected {(k, chains, dim)}")
        begin, x, tail_sum, max_abs = state.step, state.x.clone(), state.tail_sum.clone(), state.max_abs.clone()
        generator.set_state(state.generator_state)
    n_paths = min(n_paths, chains)
    trace_steps, mean_path, paths = [begin], [x.mean(1)], [x[:, :n_paths].clone()]
    norm_path, square_path = [], []

    def record(t: int, x: Tensor) -> None:
        norm = smoothness * torch.linalg.vector_norm(x, dim=-1)  # ||grad f(x_t)|| = L ||x_t|| per chain
        norm_path.append(norm.mean(1))
        square_path.append((norm**2).mean(1))

    record(begin, x)

    low = -c.reshape(k, 1, 1, 1)
    high = c.reshape(k, 1, 1, 1)

    def clip(g: Tensor) -> Tensor:
        """clip_c of every vector along the last dim of g ([K, C, b, d] or [K, C, 1, d])."""
        if coordinatewise or dim == 1:  # in 1-D norm clipping is clamp(g, -c, c)
            return torch.clamp(g, low, high)  # clip_c(g)_j = min(max(g_j, -c), c)
        norms = run_norm(g, start_dim=3)
        return g * clip_factor(norms, high[..., 0]).unsqueeze(-1)  # clip_c(g) = min(1, c/||g||) g

    def direction(g: Tensor) -> Tensor:
        """The clipped step direction d_t [K, C, d] from per-sample gradients g [K, C, b, d]."""
        if b_max == 1:
            return clip(g)[:, :, 0]
        per_sample_step = (clip(g) * weights).sum(2) if True in modes else None  # (1/b) sum_i clip_c(g_i)
        batch_step = clip((g * weights).sum(2, keepdim=True))[:, :, 0] if False in modes else None  # clip_c(mean g_i)
        if per_sample_step is None or batch_step is None:
            return per_sample_step if batch_step is None else batch_step
        return torch.where(per_sample_mask.reshape(k, 1, 1), per_sample_step, batch_step)

    # noise is drawn for `chunk` steps at once (fewer small kernels per step; same law)
    chunk = max(1, min(256, 2**21 // (k * chains * b_max * dim)))
    minus_eta = -eta
    x_max, x_min = x.clone(), x.clone()
    with cpu_threads(threads if device.type == "cpu" else None):
        for start in range(begin, steps, chunk):
            count = min(chunk, steps - start)
            noise_block = sample((k, chains, b_max * count, dim), generator).reshape(k, chains, count, b_max, dim)
            for i in range(count):
                t = start + i
                if t >= burn_in:  # tail sum of x_t over the window burn_in <= t < steps
                    tail_sum += x
                g = torch.add(noise_block[:, :, i], x.unsqueeze(2), alpha=smoothness)  # g_i = L x + xi_i
                x = torch.addcmul(x, minus_eta, direction(g))  # x <- x - eta d_t
                x_max, x_min = torch.maximum(x_max, x), torch.minimum(x_min, x)
                if (t + 1 in recorded) if recorded is not None else (t + 1) % record_every == 0:
                    trace_steps.append(t + 1)
                    mean_path.append(x.mean(1))
                    paths.append(x[:, :n_paths].clone())
                    record(t + 1, x)
    max_abs = torch.maximum(max_abs, torch.maximum(x_max.abs(), x_min.abs()).amax(-1))

    tail_average = tail_sum / len(window)  # x_bar = (1/|window|) sum_{t in window} x_t
    gradient = smoothness * tail_average  # [K, C, d]
    stationary = gradient.mean(1)
    spread = torch.linalg.vector_norm(gradient, dim=-1).std(1) / math.sqrt(chains) if chains > 1 else \
        torch.zeros(k, dtype=dtype, device=device)
    return BiasResult(
        clip_threshold=cfg["clip_threshold"], step_size=cfg["step_size"], batch_size=cfg["batch_size"],
        per_sample=cfg["per_sample"], stationary_gradient=stationary,
        bias=torch.linalg.vector_norm(stationary, dim=-1), standard_error=spread, tail_average=tail_average,
        max_abs_iterate=max_abs, trace_steps=torch.tensor(trace_steps, device=device), mean_path=torch.stack(mean_path),
        norm_path=torch.stack(norm_path), square_path=torch.stack(square_path), paths=torch.stack(paths),
        steps=steps, burn_in=burn_in, smoothness=float(smoothness),
        state=BiasState(x, tail_sum, max_abs, steps, burn_in, generator.get_state()),
    )
