"""Minibatch SGD on the pathological tasks, many runs at once: MSGD, MSGD-C (clipped), MSGD-CR (+ Omega).

Each run r has its own seed (initialization and data stream), clipping threshold (``None`` = MSGD) and
Omega weight. One iteration for every run at once:

    g = d/dtheta [ E(theta) + alpha Omega(theta) ]   (Omega's immediate derivative w.r.t. W_rec only)
    record ||g|| (before clipping; the spikes of Pascanu et al. 2013, Sec. 3.2)
    g <- clip_with_nan_guard(g)                       (Alg. 1 and the official code's NaN guard)
    theta <- theta - lr g

Every ``eval_every`` iterations each run is scored on ``eval_size`` fresh sequences; a run stops (its
parameters are frozen) once its error is below ``target_error`` (the paper's success: < 1% wrong).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from steplab.device import cpu_threads
from steplab.optional import require
from steplab.rnn.model import RNNLayout, check_activation, clip_with_nan_guard, forward, init_params, omega
from steplab.rnn.tasks import arithmetic_length, error_per_run, generate, get_task, loss_per_run
from steplab.validation import check_int, check_positive, check_range

Tensor = torch.Tensor
DATA_SEED_OFFSET = 10_000
EVAL_SEED_OFFSET = 20_000


@dataclass
class TrainingResult:
    """What :func:`train` recorded. I = iterations run, R = runs, E = evaluations.

    grad_norm [I, R] (pre-clip, NaN once a run has stopped), loss [I, R], omega [I, R],
    eval_steps [E], eval_error [E, R], solved_at [R] (iteration of success or -1), params [R, P].
    """

    task: str
    length: int
    seeds: list[int]
    clip_thresholds: list[float | None]
    omega_weights: list[float]
    grad_norm: Tensor
    loss: Tensor
    omega: Tensor
    eval_steps: Tensor
    eval_error: Tensor
    solved_at: Tensor
    params: Tensor
    layout: RNNLayout

    @property
    def solved(self) -> Tensor:
        return self.solved_at >= 0

    def label(self, run: int) -> str:
        c, a = self.clip_thresholds[run], self.omega_weights[run]
        method = "MSGD" if c is None else ("MSGD-CR" if a > 0 else "MSGD-C")
        return f"{method} seed {self.seeds[run]}" + ("" if c is None else f" (c = {c:g})")

    def summary(self, run: int) -> str:
        """``'MSGD-C seed 0 (c = 1): solved at 750'`` or ``'MSGD seed 0: error 0.66 after 2000'``."""
        if bool(self.solved[run]):
            return f"{self.label(run)}: solved at iteration {int(self.solved_at[run])}"
        return (f"{self.label(run)}: not solved, error {float(self.eval_error[-1, run]):.2f} "
                f"after {int(self.eval_steps[-1])} iterations")


def _per_run(values, runs: int, name: str) -> list:
    values = list(values) if isinstance(values, (list, tuple)) else [values]
    if len(values) == 1:
        values = values * runs
    if len(values) != runs:
        raise ValueError(f"{name} must have 1 or {runs} entries, got {len(values)}")
    return values


def _batch(task: str, batch: int, length: int, generators: list[torch.Generator], run_index: Tensor,
           dtype) -> tuple[Tensor, Tensor]:
    """One batch per data stream (each from its own generator), stacked to [runs, batch, ...].

    ``run_index[r]`` is the stream of run r: runs with the same seed see the same data (paired comparisons).
    """
    spec = get_task(task)
    total = None
    if spec.readout == "regress":  # the runs share the jittered length so their batches stack
        total = arithmetic_length(length, generators[0])
    pairs = [generate(task, batch, length, g, total_length=total) for g in generators]
    inputs = torch.stack([p[0] for p in pairs]).to(dtype)[run_index]
    targets = torch.stack([p[1] for p in pairs])[run_index]
    return inputs, (targets.to(dtype) if targets.is_floating_point() else targets)


def train(task: str = "temporal_order", length: int = 20, seeds=(0,), clip_thresholds=(None,),
          omega_weights=(0.0,), hidden_size: int = 50, batch: int = 20, lr: float = 0.1,
          init: str = "basic_tanh", activation: str = "tanh", max_iterations: int = 2000,
          eval_every: int = 250, eval_size: int = 1000, target_error: float = 0.01,
          dtype: torch.dtype = torch.float32, progress: bool = False, threads: int | None = 1) -> TrainingResult:
    """Train one RNN per run (runs = the longest of ``seeds``, ``clip_thresholds``, ``omega_weights``).

    Defaults are the brief's CPU setting: temporal order, T = 20, basic tanh, 50 units, batch 20, lr 0.1.
    ``threads``: torch CPU threads while training (the matrices are tiny, so one thread is fastest on a
    shared CPU; restored afterwards; ``None`` leaves the setting alone).
    """
    with cpu_threads(threads):
        return _train(task, length, seeds, clip_thresholds, omega_weights, hidden_size, batch, lr, init, activation,
                      max_iterations, eval_every, eval_size, target_error, dtype, progress)


def _train(task, length, seeds, clip_thresholds, omega_weights, hidden_size, batch, lr, init, activation,
           max_iterations, eval_every, eval_size, target_error, dtype, progress) -> TrainingResult:
    spec = get_task(task)
    check_int("length", length, 2)
    check_int("hidden_size", hidden_size, 1)
    check_int("batch", batch, 1)
    check_positive("lr", lr)
    check_activation(activation)
    check_int("max_iterations", max_iterations, 1)
    check_int("eval_every", eval_every, 1)
    check_int("eval_size", eval_size, 1)
    check_range("target_error", target_error, 0.0, 1.0, low_inclusive=False)
    runs = max(len(x) if isinstance(x, (list, tuple)) else 1 for x in (seeds, clip_thresholds, omega_weights))
    seeds = [int(s) for s in _per_run(seeds, runs, "seeds")]
    thresholds = _per_run(clip_thresholds, runs, "clip_thresholds")
    for c in thresholds:
        if c is not None:
            check_positive("clip_threshold", c)
    alphas = [float(a) for a in _per_run(omega_weights, runs, "omega_weights")]
    for a in alphas:
        check_range("omega_weight", a, 0.0)

    layout = RNNLayout(spec.input_size, hidden_size, spec.output_size)
    flat = init_params(layout, init, seeds, dtype)
    threshold_t = torch.tensor([float("inf") if c is None else c for c in thresholds], dtype=dtype)
    alpha_t = torch.tensor(alphas, dtype=dtype)
    use_omega = any(a > 0 for a in alphas)
    every_step = spec.readout == "every_step"
    streams = sorted(set(seeds))
    run_index = torch.tensor([streams.index(s) for s in seeds])
    data_gens = [torch.Generator().manual_seed(s + DATA_SEED_OFFSET) for s in streams]
    eval_gens = [torch.Generator().manual_seed(s + EVAL_SEED_OFFSET) for s in streams]

    grad_norms = torch.full((max_iterations, runs), float("nan"), dtype=dtype)
    losses = torch.full((max_iterations, runs), float("nan"), dtype=dtype)
    omegas = torch.zeros(max_iterations, runs, dtype=dtype)
    eval_steps, eval_errors = [], []
    solved_at = torch.full((runs,), -1, dtype=torch.long)
    active = torch.ones(runs, dtype=torch.bool)
    iterations = range(max_iterations)
    if progress:
        tqdm = require("tqdm.auto", "a progress bar (progress=True)").tqdm
        iterations = tqdm(iterations, desc=f"{task} T={length}", leave=False)

    done = 0
    for it in iterations:
        inputs, targets = _batch(task, batch, length, data_gens, run_index, dtype)
        params = flat.detach().requires_grad_(True)
        outputs, states = forward(params, layout, inputs, activation, every_step)
        loss = loss_per_run(spec, outputs, targets)
        cost = loss.sum()  # runs are independent: d(sum)/d(theta_r) is run r's own gradient
        if use_omega:
            errors = torch.autograd.grad(cost, states, retain_graph=True)
            w_rec = layout.unflatten(params)["w_rec"]
            reg = omega([h.detach() for h in states], [d.detach() for d in errors], w_rec, activation)
            omegas[it] = reg.detach()
            cost = cost + (alpha_t * reg).sum()
        (grads,) = torch.autograd.grad(cost, params)
        step, norms = clip_with_nan_guard(grads, flat, layout, threshold_t)
        flat = flat - lr * step * active[:, None].to(dtype)
        grad_norms[it] = torch.where(active, norms, torch.full_like(norms, float("nan")))
        losses[it] = torch.where(active, loss.detach(), torch.full_like(norms, float("nan")))
        done = it + 1
        if done % eval_every == 0 or done == max_iterations:
            errors_now = evaluate(task, length, flat, layout, eval_gens, run_index, eval_size, activation, dtype)
            eval_steps.append(done)
            eval_errors.append(errors_now)
            newly = active & (errors_now < target_error)
            solved_at[newly] = done
            active &= ~newly
            if not bool(active.any()):
                break

    return TrainingResult(task, length, seeds, thresholds, alphas, grad_norms[:done], losses[:done],
                          omegas[:done], torch.tensor(eval_steps), torch.stack(eval_errors), solved_at,
                          flat.detach(), layout)


@torch.no_grad()
def evaluate(task: str, length: int, flat: Tensor, layout: RNNLayout, generators: list[torch.Generator],
             run_index: Tensor, size: int = 1000, activation: str = "tanh", dtype: torch.dtype = torch.float32,
             chunk: int = 500) -> Tensor:
    """Fraction of wrong answers of each run on ``size`` fresh sequences (in chunks to bound memory)."""
    spec = get_task(task)
    wrong, seen = torch.zeros(flat.shape[0], dtype=dtype), 0
    while seen < size:
        n = min(chunk, size - seen)
        inputs, targets = _batch(task, n, length, generators, run_index, dtype)
        outputs, _ = forward(flat, layout, inputs, activation, spec.readout == "every_step")
        wrong += error_per_run(spec, outputs, targets) * n
        seen += n
    return wrong / size


def average_grad_norm(task: str = "temporal_order", length: int = 20, seeds=(0, 1, 2), iterations: int = 200,
                      **kwargs) -> float:
    """The paper's threshold heuristic's statistic: mean unclipped gradient norm over the first updates."""
    result = train(task, length, seeds=seeds, clip_thresholds=(None,), max_iterations=iterations,
                   eval_every=iterations, eval_size=100, **kwargs)
    return float(result.grad_norm.nanmean())
