"""Experiments E1-E8 of the clipping family, one function each, shared by the claims, the tests and notebook 01.

E1-E2 are deterministic (Koloskova, Hendrikx, Stich 2023: the threshold and (L0, L1)-smoothness); E3-E5 measure
the stochastic bias of clipped SGD against the closed forms of ``theory``; E6 is the SPP median tracker
(Schaipp, Garrigos, Simsekli, Gower 2024); E7 the rate of clipped SGD (transient, variance, floor); E8 SGSG's
robust-gradient SGD under heavy-tailed, state-dependent noise. Each returns a frozen dataclass of tensors
(float64, seeded) with the measured values next to the theory. Results are cached per seed, so the notebook's
final claims table and a test session reuse the simulations instead of re-running them. Each takes ``device=None``
(:func:`steplab.device.resolve_device`): the engines run there, and each experiment moves the engine's result to
the CPU with ``to_host`` right after the call; the theory and the dataclass are computed on the CPU.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import torch

from steplab.clipping import theory
from steplab.clipping.deterministic import cosh_hitting_times, quadratic_hitting_times
from steplab.clipping.median import TrackerPaths, contaminated_gradients, mixture_mean, track, weiszfeld
from steplab.clipping.robust import RobustRuns, robust_sgd
from steplab.clipping.simulate import BiasResult, simulate_bias
from steplab.device import resolve_device, to_host
from steplab.problems import CauchyNoise, ExpNoise, TwoPointNoise

Tensor = torch.Tensor
INF = math.inf
E1_THRESHOLDS = (0.5, 1.0, 2.0, 5.0, 10.0, INF)
E2_THRESHOLDS = (0.25, 1.0, 4.0)
E3_THRESHOLDS = (0.25, 0.5, 1.0, 2.0, 4.0)
E3_NOISE = TwoPointNoise(sigma=1.0, p=0.1)  # A = 3, B = 1/3: prediction (3 - c)_+ / 9
WORST_CASE_THRESHOLDS = (1.0, 2.0, 4.0, 8.0)
STEP_SIZES = (0.1, 0.01, 0.002)
BATCH_SIZES = (1, 2, 4, 8, 16)
E4_THRESHOLDS = (0.05, 0.25, 0.5, 1.0, 2.0, 4.0)
RATE_RUNS = ((2.0, 0.2), (2.0, 0.05), (2.0, 0.0125), (INF, 0.05))  # (c, eta) of E7; the last is plain SGD
RATE_START, RATE_STEPS = 5.0, 4000


def geometric_steps(steps: int, points: int = 60, tail_every: int | None = None) -> list[int]:
    """Record steps for a log t axis: ~``points`` geometric steps in [1, steps], plus every ``tail_every`` steps
    of the tail window [steps // 2, steps] (for averages over it)."""
    grid = torch.unique(torch.logspace(0, math.log10(steps), points).round().long()).tolist()
    tail = list(range(steps // 2, steps + 1, tail_every)) if tail_every else []
    return sorted(set(grid) | set(tail))


def _t(values) -> Tensor:
    return torch.tensor(values, dtype=torch.float64)


@dataclass(frozen=True)
class Offset:
    """E1, one row per threshold c: T(c, 1e-2) and T(c, 1e-8) run (``measured``) and closed form (``formula``),
    both [C, 2]; ``tail`` = T(c, 1e-8) - T(c, 1e-2) of the runs [C]; ``grad_norm`` [S, C]."""

    clip_threshold: Tensor
    measured: Tensor
    formula: Tensor
    tail: Tensor
    grad_norm: Tensor


@dataclass(frozen=True)
class CoshRuns:
    """E2: ``iterations`` [R, 3] to |f'| <= 1e-2, 1e-6, 1e-8 (-1: never), ``diverged_at`` [R] (-1: never),
    ``tail`` [R] = T(1e-8) - T(1e-2), ``grad_norm`` [S, R]; the last run is plain GD (c = inf)."""

    clip_threshold: Tensor
    iterations: Tensor
    diverged_at: Tensor
    tail: Tensor
    grad_norm: Tensor


@dataclass(frozen=True)
class FixedSteps:
    """E2: plain GD on cosh from x_0 = 10 for a batched sweep of fixed steps eta [R] (the first is 2/cosh(10)):
    ``iterations`` [R] to |f'| <= 1e-6 (-1: never), ``diverged_at`` [R] (-1: never), ``best`` the index of the
    converging step with the fewest iterations, ``grad_norm`` [S, 2] the paths of 2/cosh(10) and of the best."""

    step_size: Tensor
    iterations: Tensor
    diverged_at: Tensor
    best: int
    grad_norm: Tensor

    @property
    def safe_iterations(self) -> int:
        """Iterations with eta = 2/cosh(10), the step that smoothness on the starting sublevel set guarantees."""
        return int(self.iterations[0])

    @property
    def best_iterations(self) -> int:
        """Iterations with the best converging fixed step of the sweep."""
        return int(self.iterations[self.best])


@dataclass(frozen=True)
class BiasSweep:
    """E3-E4: measured bias [K] (``result.bias``) next to the predicted one [K] for K configurations."""

    clip_threshold: Tensor
    measured: Tensor
    theory: Tensor
    result: BiasResult

    @property
    def step_size(self) -> Tensor:
        """The configurations' step sizes [K]."""
        return self.result.step_size


@dataclass(frozen=True)
class ThresholdSweep(BiasSweep):
    """E3 over c, with the estimator bias h(0) = E clip_c(xi) [K] at the optimum (a different number)."""

    estimator_bias: Tensor


@dataclass(frozen=True)
class WorstCase(BiasSweep):
    """E3's worst two-point laws, with the upper bound (c - sqrt(c^2 - 1))/2 and the envelope min(1, 1/c) [K]."""

    upper_bound: Tensor
    envelope: Tensor


@dataclass(frozen=True)
class ExpMedian(BiasSweep):
    """E4 (Exp(1) - 1 noise), with the envelope min(1, 1/c) [K] and the c -> 0 limit 1 - ln 2."""

    envelope: Tensor
    median_limit: float


@dataclass(frozen=True)
class BatchSizes:
    """E3 at c = 1 over b: per-sample and batch clipping's measured bias and theory, each [B]."""

    batch_size: Tensor
    per_sample: Tensor
    batch: Tensor
    per_sample_theory: Tensor
    batch_theory: Tensor
    result: BiasResult


@dataclass(frozen=True)
class HeavyTails:
    """E5 (Cauchy noise), clipped (c = 1) then plain: mean and median over chains of |tail average| and
    max_t |x_t| [2]."""

    clip_threshold: Tensor
    mean_abs_tail_average: Tensor
    median_abs_tail_average: Tensor
    max_abs_iterate: Tensor
    result: BiasResult


@dataclass(frozen=True)
class Rate:
    """E7, one column per (c, eta) of ``RATE_RUNS`` from grad f(x_0) = 5 (two-point noise, sigma = 1, p = 0.1):
    ``steps`` [n] and E||grad f(x_t)|| over them (``mean_norm`` [n, R]); the three parts of E||grad f||^2 =
    (E grad f)^2 + Var: ``transient`` [n, R] = |E grad f(x_t) - floor|, the ``floor`` [R] (mean-field root, 0
    unclipped) and the stationary ``variance`` [R] predicted (linearised) and ``measured_variance`` [R] (averaged
    over the recorded steps of the tail window); ``measured_floor`` [R] = |tail average|."""

    clip_threshold: Tensor
    step_size: Tensor
    steps: Tensor
    mean_norm: Tensor
    transient: Tensor
    floor: Tensor
    variance: Tensor
    measured_floor: Tensor
    measured_variance: Tensor
    result: BiasResult

    @property
    def stationary_rms(self) -> Tensor:
        """sqrt(floor^2 + variance) [R]: the stationary root-mean-square gradient, >= E||grad f|| (Jensen)."""
        return torch.sqrt(self.floor**2 + self.variance)

    @property
    def late_mean_norm(self) -> Tensor:
        """E||grad f(x_t)|| averaged over the recorded steps of the tail window [R]."""
        return self.mean_norm[self.steps >= self.result.burn_in].mean(0)


@dataclass(frozen=True)
class MedianTracking:
    """E6: the reference geometric median and mean [2], the tracker's ``paths`` on ``stream`` [T, R, 2], and
    distances: tracker to median [R], chain-averaged tracker to median, running mean to mean / to median [R]."""

    geometric_median: Tensor
    mean: Tensor
    paths: TrackerPaths
    stream: Tensor
    median_error: Tensor
    averaged_median_error: Tensor
    mean_error: Tensor
    mean_to_median: Tensor


@lru_cache(maxsize=4)
def e1_offset(device=None) -> Offset:
    """E1: clipped GD on (L/2)||x||^2, L = 2, eta = 0.25, ||grad f(x_0)|| = 100: T(c, eps) formula vs run."""
    c = _t(E1_THRESHOLDS)
    run = to_host(quadratic_hitting_times(c, tolerances=(1e-2, 1e-8), device=device))
    formula = torch.stack([theory.clipped_gd_iterations(c, 1e-2), theory.clipped_gd_iterations(c, 1e-8)], 1)
    return Offset(c, run.iterations, formula.long(), run.tail(), run.grad_norm)


@lru_cache(maxsize=4)
def e2_cosh(device=None) -> CoshRuns:
    """E2: f = cosh x - 1 from x_0 = 10, eta = 0.5: clipped GD (c = 0.25, 1, 4) converges, plain GD diverges.

    Columns of ``iterations``: tolerances 1e-2, 1e-6, 1e-8; the last run is plain GD (c = inf)."""
    c = _t((*E2_THRESHOLDS, INF))
    fast = to_host(cosh_hitting_times(0.5, c, tolerances=(1e-2, 1e-6, 1e-8), max_steps=1000, device=device))
    return CoshRuns(c, fast.iterations, fast.diverged_at, fast.tail(2, 0), fast.grad_norm)


@lru_cache(maxsize=2)
def e2_fixed_steps(device=None) -> FixedSteps:
    """E2: plain GD on cosh x - 1 from x_0 = 10 for 2/cosh(10) and eta = k/sinh(10), k = 2.25, 2.75, ..., 23.75,
    all runs in one batched call to |f'| <= 1e-6.  The grid skips k = 10 (x_1 = 0: one lucky step that needs
    x* known) and k = 20 (x_1 = -10: a 2-cycle).

    2/cosh(10) = 2/max f'' on the sublevel set {f <= f(x_0)} is the step smoothness guarantees; larger steps
    overshoot to x_1 = 10 - eta sinh(10) and still converge while |x_1| < 10 (k < 20), so the best fixed step
    sits near 20/sinh(10) ~ 1.8e-3 (our regression values: 79,881 iterations at 2/cosh(10), 6,840 at the
    best, k = 19.25; the count varies irregularly with k near the edge, 8,000-9,000 for neighbouring k).
    """
    k = torch.arange(2.25, 23.76, 0.5, dtype=torch.float64)
    eta = torch.cat([_t([2 / math.cosh(10.0)]), k / math.sinh(10.0)])
    runs = to_host(cosh_hitting_times(eta, INF, tolerances=(1e-6,), max_steps=90_000, device=device))
    iterations = runs.iterations[:, 0]
    converged = iterations >= 0
    best = int(torch.where(converged, iterations, iterations.max() + 1).argmin())
    return FixedSteps(eta, iterations, runs.diverged_at, best, runs.grad_norm[:, [0, best]])


@lru_cache(maxsize=4)
def e3_threshold_sweep(seed: int = 0, device=None) -> ThresholdSweep:
    """E3: bias vs c for two-point noise (sigma = 1, p = 0.1), eta = 0.01, 256 chains x 20k steps."""
    c = _t(E3_THRESHOLDS)
    result = to_host(simulate_bias(c, 0.01, E3_NOISE, seed=seed, device=device))
    return ThresholdSweep(c, result.bias, theory.bias_theory(c, E3_NOISE), result,
                          theory.two_point_estimator_bias(c, 1.0, 0.1))


@lru_cache(maxsize=4)
def e3_worst_case(seed: int = 0, device=None) -> WorstCase:
    """E3: worst-case family A = 2c (p = 1/(4c^2 + 1)): bias sigma^2/(4c) <= upper bound (c - sqrt(c^2-1))/2."""
    c = _t(WORST_CASE_THRESHOLDS)
    noise = [TwoPointNoise(1.0, float(p)) for p in theory.worst_case_p(c)]
    result = to_host(simulate_bias(c, 0.01, noise, seed=seed, device=device))
    return WorstCase(c, result.bias, theory.worst_case_bias(c), result, theory.bias_upper_bound(c),
                     theory.khs_envelope(c))


@lru_cache(maxsize=4)
def e3_step_sizes(seed: int = 0, device=None) -> BiasSweep:
    """E3: at c = 1 the bias is 0.2222 for eta = 0.1, 0.01, 0.002 (no vanishing as eta -> 0); unclipped ~ 0."""
    eta = _t((*STEP_SIZES, 0.01))
    c = _t((1.0,) * len(STEP_SIZES) + (INF,))
    result = to_host(simulate_bias(c, eta, E3_NOISE, seed=seed, record_at=geometric_steps(20_000, 120),
                                   device=device))
    return BiasSweep(c, result.bias, theory.bias_theory(c, E3_NOISE), result)


@lru_cache(maxsize=4)
def e3_batch(seed: int = 0, device=None) -> BatchSizes:
    """E3: c = 1, b in {1, 2, 4, 8, 16}; per-sample clipping keeps 0.2222, batch clipping follows the binomial root.

    eta = 0.05 and 4k steps (burn-in 1k): the two-point mean field is affine around the root, so the
    stationary mean does not depend on eta, and the larger step relaxes 5x faster.
    """
    b = torch.tensor(BATCH_SIZES * 2)
    per_sample = torch.tensor([True] * len(BATCH_SIZES) + [False] * len(BATCH_SIZES))
    result = to_host(simulate_bias(1.0, 0.05, E3_NOISE, batch_size=b, per_sample=per_sample, steps=4000,
                                   burn_in=1000, seed=seed, device=device))
    theory_values = theory.bias_theory(1.0, E3_NOISE, b, per_sample)
    n = len(BATCH_SIZES)
    return BatchSizes(b[:n], result.bias[:n], result.bias[n:], theory_values[:n], theory_values[n:], result)


@lru_cache(maxsize=4)
def e4_exp(seed: int = 0, device=None) -> ExpMedian:
    """E4: xi = Exp(1) - 1: bias 1 - m(c) runs from 0 (c -> inf, mean) to 1 - ln 2 (c -> 0, median)."""
    c = _t(E4_THRESHOLDS)
    noise = ExpNoise(1.0)
    result = to_host(simulate_bias(c, 0.01, noise, seed=seed, device=device))
    return ExpMedian(c, result.bias, theory.bias_theory(c, noise), result, theory.khs_envelope(c),
                     theory.EXP_MEDIAN_LIMIT)


@lru_cache(maxsize=4)
def e5_cauchy(seed: int = 0, device=None) -> HeavyTails:
    """E5: Cauchy noise, eta = 0.01, 64 chains x 20k steps: clipped (c = 1) settles, plain SGD wanders."""
    c = _t((1.0, INF))
    result = to_host(simulate_bias(c, 0.01, CauchyNoise(1.0), chains=64, seed=seed, device=device))
    size = result.tail_average.abs()[:, :, 0]  # [2, chains] |tail average| (1-D)
    return HeavyTails(c, size.mean(1), size.median(1).values, result.max_abs_iterate.amax(1), result)


@lru_cache(maxsize=4)
def e6_sgsg(seed: int = 0, samples: int = 50_000, chains: int = 16, device=None) -> MedianTracking:
    """E6: SPP median tracker (tau_t = 1/sqrt t) vs running mean on 0.9 N((1,0), I) + 0.1 N((20,20), I)."""
    device = resolve_device(device, work_items=chains * 2)
    stream = contaminated_gradients(samples, runs=chains, seed=seed)  # drawn on the CPU: the same everywhere
    reference = to_host(weiszfeld(contaminated_gradients(100_000, runs=1, seed=seed + 1000, device=device)[:, 0]))
    paths = to_host(track(stream.to(device), tau0=1.0, record_every=100))
    median_error = torch.linalg.vector_norm(paths.final_median - reference, dim=-1)
    return MedianTracking(reference, mixture_mean(), paths, stream, median_error,
                          averaged_median_error=torch.linalg.vector_norm(paths.final_median.mean(0) - reference),
                          mean_error=torch.linalg.vector_norm(paths.final_mean - mixture_mean(), dim=-1),
                          mean_to_median=torch.linalg.vector_norm(paths.final_mean - reference, dim=-1))


@lru_cache(maxsize=4)
def e7_rate(seed: int = 0, chains: int = 1024, device=None) -> Rate:
    """E7: E||grad f(x_t)|| over t for clipped SGD (c = 2, eta = 0.2, 0.05, 0.0125) and plain SGD (eta = 0.05)
    from x_0 = 5 with two-point noise: a transient (at speed eta c while every sample is clipped), a variance
    part v ~ eta q c^2 / (2 (1 - p)) that shrinks with eta, and the floor q (A - c)_+ = 1/9 that does not."""
    c = _t([r[0] for r in RATE_RUNS])
    eta = _t([r[1] for r in RATE_RUNS])
    result = simulate_bias(c, eta, E3_NOISE, chains=chains, steps=RATE_STEPS, x0=RATE_START, seed=seed,
                           record_at=geometric_steps(RATE_STEPS, 80, tail_every=40), device=device)
    result = to_host(result)
    clipped = torch.isfinite(c)
    floor = torch.where(clipped, theory.bias_theory(c, E3_NOISE), 0.0)  # the root is 0 unclipped (not 5e-17)
    variance = torch.where(clipped, theory.two_point_stationary_variance(c.clamp(max=1e9), 1.0, 0.1, eta),
                           theory.unclipped_stationary_variance(1.0, eta))
    mean = result.mean_path[:, :, 0]  # [n, R] E grad f(x_t) (L = 1)
    late = result.trace_steps >= result.burn_in
    measured_variance = (result.square_path - mean**2)[late].mean(0)  # E||g||^2 - (E g)^2 over the tail window
    return Rate(c, eta, result.trace_steps, result.norm_path, (mean - floor).abs(), floor, variance,
                result.bias, measured_variance, result)


@lru_cache(maxsize=4)
def e8_robust_sgd(seed: int = 0, device=None) -> RobustRuns:
    """E8 (SGSG's method): mean-of-5, median-of-5, clipped (c = 1), SPP-tracker (tau = 1) and heavy-ball (beta = 0.9)
    SGD, eta = 0.05, on g_i = x + (1 + |x|) xi_i with Cauchy xi, 256 chains x 4000 steps from x_0 = 5."""
    return to_host(robust_sgd(seed=seed, device=device))
