"""Simulators for clipped (S)GD: the stationary-bias simulator and deterministic hitting times.

``simulate_bias`` runs K configurations x ``chains`` independent chains of 1-D (or d-D) clipped SGD on
f(x) = (L/2)||x||^2 with additive noise, in one tensor program (no loop over configurations), and
tail-averages the iterates: the measured stationary gradient is L * (mean over chains of each chain's
average of x_t over the last ``steps - burn_in`` steps) (clipping brief, Secs. 5 and 8).

The 20k-step loop is hand-fused instead of going through ``steplab.trajectory.run``: the driver records
losses and norms at every step, which the bias measurement does not need. The clipping itself reuses
``steplab.transforms.clip_factor``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from steplab.clipping.noise import batched_sampler
from steplab.clipping.theory import check_threshold
from steplab.device import cpu_threads, make_generator
from steplab.transforms import clip_factor, run_norm
from steplab.validation import check_int, check_positive

Tensor = torch.Tensor


@dataclass
class BiasResult:
    """Output of :func:`simulate_bias`. K = configurations, C = chains, d = dimension, n = recorded steps.

    stationary_gradient: [K, d]     L * mean over chains of the chains' tail averages (signed)
    bias:                [K]        its norm, ||grad f(x_bar)|| (|.| in 1-D)
    standard_error:      [K]        std over chains of ||L * tail average|| / sqrt(C) (a rough error bar)
    tail_average:        [K, C, d]  each chain's average of x_t over t in [burn_in, steps)
    max_abs_iterate:     [K, C]     max_t ||x_t||_inf (how far plain SGD wanders under heavy tails)
    trace_steps:         [n]        steps at which ``mean_path``/``paths`` were recorded
    mean_path:           [n, K, d]  mean over chains of x_t
    paths:               [n, K, P, d]  the first P chains' x_t
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
    paths: Tensor
    steps: int
    burn_in: int
    smoothness: float


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
    n_paths: int = 4,
    threads: int | None = 1,
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
        record_every: keep the chain-mean path and ``n_paths`` chains every k steps (default ~200 points).
        dtype: float64 for asserted numbers, float32 for live pictures.
        threads: CPU threads for the loop (see :func:`cpu_threads`); ignored on CUDA.
    """
    check_threshold(clip_threshold)
    check_positive("step_size", step_size)
    check_positive("smoothness", smoothness)
    check_int("chains", chains, 1)
    check_int("steps", steps, 1)
    check_int("dim", dim, 1)
    burn_in = steps // 2 if burn_in is None else check_int("burn_in", burn_in, 0)
    if burn_in >= steps:
        raise ValueError(f"burn_in must be < steps = {steps}, got {burn_in}")
    b_values = torch.as_tensor(batch_size)
    if b_values.is_floating_point() or bool((b_values < 1).any()):
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    device = torch.device(device) if device is not None else torch.device("cpu")
    record_every = record_every or max(1, steps // 200)
    check_int("record_every", record_every, 1)

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
    sample = batched_sampler(noise, k, dtype, device)
    b_max = int(cfg["batch_size"].max())

    c = cfg["clip_threshold"].to(device, dtype)
    c = torch.where(torch.isinf(c), torch.full_like(c, torch.finfo(dtype).max), c)  # inf: no clipping
    eta = cfg["step_size"].to(device, dtype).reshape(k, 1, 1)
    b = cfg["batch_size"].to(device)
    weights = (torch.arange(b_max, device=device) < b.unsqueeze(1)).to(dtype) / b.unsqueeze(1).to(dtype)
    weights = weights.reshape(k, 1, b_max, 1)
    per_sample_mask = cfg["per_sample"].to(device)
    modes = {bool(v) for v in per_sample_mask.tolist()} if b_max > 1 else {True}

    generator = make_generator(seed, device)
    x = torch.full((k, chains, dim), float(x0), dtype=dtype, device=device)
    tail_sum = torch.zeros_like(x)
    max_abs = x.abs().amax(-1)
    n_paths = min(n_paths, chains)
    trace_steps, mean_path, paths = [0], [x.mean(1)], [x[:, :n_paths].clone()]

    low = -c.reshape(k, 1, 1, 1)
    high = c.reshape(k, 1, 1, 1)

    def clip(g: Tensor) -> Tensor:
        """clip_c of every vector along the last dim of g ([K, C, b, d] or [K, C, 1, d])."""
        if coordinatewise or dim == 1:  # in 1-D norm clipping is clamp(g, -c, c)
            return torch.clamp(g, low, high)
        norms = run_norm(g, start_dim=3)
        return g * clip_factor(norms, high[..., 0]).unsqueeze(-1)

    def direction(g: Tensor) -> Tensor:
        """The clipped step direction d_t [K, C, d] from per-sample gradients g [K, C, b, d]."""
        if b_max == 1:
            return clip(g)[:, :, 0]
        per_sample_step = (clip(g) * weights).sum(2) if True in modes else None
        batch_step = clip((g * weights).sum(2, keepdim=True))[:, :, 0] if False in modes else None
        if per_sample_step is None or batch_step is None:
            return per_sample_step if batch_step is None else batch_step
        return torch.where(per_sample_mask.reshape(k, 1, 1), per_sample_step, batch_step)

    # noise is drawn for `chunk` steps at once (fewer small kernels per step; same law)
    chunk = max(1, min(256, 2**21 // (k * chains * b_max * dim)))
    minus_eta = -eta
    x_max, x_min = x.clone(), x.clone()
    with cpu_threads(threads if device.type == "cpu" else None):
        for start in range(0, steps, chunk):
            count = min(chunk, steps - start)
            noise_block = sample((k, chains, b_max * count, dim), generator).reshape(k, chains, count, b_max, dim)
            for i in range(count):
                t = start + i
                if t >= burn_in:  # tail average of x_t over t = burn_in .. steps - 1
                    tail_sum += x
                g = torch.add(noise_block[:, :, i], x.unsqueeze(2), alpha=smoothness)  # g_i = L x + xi_i
                x = torch.addcmul(x, minus_eta, direction(g))  # x <- x - eta d_t
                x_max, x_min = torch.maximum(x_max, x), torch.minimum(x_min, x)
                if (t + 1) % record_every == 0:
                    trace_steps.append(t + 1)
                    mean_path.append(x.mean(1))
                    paths.append(x[:, :n_paths].clone())
    max_abs = torch.maximum(max_abs, torch.maximum(x_max.abs(), x_min.abs()).amax(-1))

    tail_average = tail_sum / (steps - burn_in)
    gradient = smoothness * tail_average  # [K, C, d]
    stationary = gradient.mean(1)
    spread = torch.linalg.vector_norm(gradient, dim=-1).std(1) / math.sqrt(chains) if chains > 1 else \
        torch.zeros(k, dtype=dtype, device=device)
    return BiasResult(
        clip_threshold=cfg["clip_threshold"], step_size=cfg["step_size"], batch_size=cfg["batch_size"],
        per_sample=cfg["per_sample"], stationary_gradient=stationary,
        bias=torch.linalg.vector_norm(stationary, dim=-1), standard_error=spread, tail_average=tail_average,
        max_abs_iterate=max_abs, trace_steps=torch.tensor(trace_steps), mean_path=torch.stack(mean_path),
        paths=torch.stack(paths), steps=steps, burn_in=burn_in, smoothness=float(smoothness),
    )
