"""Minibatch SGD on the pathological tasks, many runs at once: MSGD, MSGD-C (clipped), MSGD-CR (+ Omega).

Pascanu, Mikolov & Bengio (2013), Sec. 4.1 and Alg. 1. Each run r has its own seed (initialization and
data stream), clipping threshold (``None`` = MSGD) and Omega weight alpha. One iteration for every run:

    g = d/dtheta [ E(theta) + alpha Omega(theta) ]   (eq. 10; Omega's immediate derivative w.r.t. W_rec only)
    g <- clip_with_nan_guard(g)                       (Alg. 1 and the official code's NaN guard)
    theta <- theta - lr g

with ||g|| recorded before clipping (the spikes of Sec. 3.2). Every ``eval_every`` iterations each run
is scored on ``eval_size`` fresh sequences; a run stops (its parameters are frozen) once its error is
below ``target_error`` (the paper's success: < 1% wrong).

The driver is :func:`steplab.trajectory.run`: :class:`TaskProblem` is the stochastic oracle (it draws
each run's minibatch from that run's data stream) and :func:`guarded_sgd` the update. :func:`train`
calls ``run`` for ``eval_every`` iterations at a time, evaluates between the calls and freezes the
solved runs for the next one. Two things ``run`` has no field for are kept by the oracle itself: the
Omega value of each iteration (``TaskProblem.omega_record``) and the data streams (its generators), whose
states go into :class:`TrainingState` so that ``train(..., resume=result.state)`` continues exactly.
(``run`` would also freeze a run whose minibatch loss is not finite; the NaN guard keeps the parameters
finite, and with finite parameters every task's loss is finite.)

Speed: going through ``run`` costs nothing measurable against the same iteration hand-written as one loop
(our measurement, 20 runs of temporal order T = 20, 500 iterations, one torch thread: ratio 1.01;
``.venv/bin/python benchmarks/bench_rnn_train.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from steplab.device import cpu_threads, resolve_device
from steplab.optional import require
from steplab.rnn.model import RNNLayout, check_activation, clip_with_nan_guard, forward, init_params, omega
from steplab.rnn.tasks import TaskSpec, arithmetic_length, error_per_run, generate, get_task, loss_per_run
from steplab.trajectory import run
from steplab.transforms import GradientTransform, run_norm
from steplab.validation import check_int, check_positive, check_range, check_threshold

Tensor = torch.Tensor
DATA_SEED_OFFSET = 10_000
EVAL_SEED_OFFSET = 20_000


@dataclass
class TrainingState:
    """Everything :func:`train` needs to continue where it stopped (pass it back as ``resume=``).

    params [R, P]; iteration: iterations done so far; solved_at [R] (iteration of success or -1);
    data_streams / eval_streams: ``torch.Generator.get_state()`` of each distinct seed's generators.
    """

    params: Tensor
    iteration: int
    solved_at: Tensor
    data_streams: tuple[Tensor, ...]
    eval_streams: tuple[Tensor, ...]


@dataclass
class TrainingResult:
    """What :func:`train` recorded. I = iterations of this call, R = runs, E = evaluations.

    grad_norm [I, R] (pre-clip, NaN once a run has stopped), loss [I, R], omega [I, R],
    eval_steps [E] (iterations counted from the first call), eval_error [E, R], solved_at [R]
    (iteration of success or -1), params [R, P], state (to resume from).
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
    state: TrainingState | None = None

    @property
    def solved(self) -> Tensor:
        return self.solved_at >= 0

    def label(self, run: int) -> str:
        """``'MSGD-C seed 3 (c = 1)'``: the method (MSGD, MSGD-C, MSGD-CR), the seed and the threshold."""
        c, a = self.clip_thresholds[run], self.omega_weights[run]
        method = "MSGD" if c is None else ("MSGD-CR" if a > 0 else "MSGD-C")
        return f"{method} seed {self.seeds[run]}" + ("" if c is None else f" (c = {c:g})")

    def summary(self, run: int) -> str:
        """``'MSGD-C seed 0 (c = 1): solved at iteration 750'`` or ``'MSGD seed 0: not solved, error 0.66 ...'``."""
        if bool(self.solved[run]):
            return f"{self.label(run)}: solved at iteration {int(self.solved_at[run])}"
        return (f"{self.label(run)}: not solved, error {float(self.eval_error[-1, run]):.2f} "
                f"after {int(self.eval_steps[-1])} iterations")


def training_gradient(flat: Tensor, layout: RNNLayout, spec: TaskSpec, inputs: Tensor, targets: Tensor,
                      activation: str = "tanh", omega_weights: Tensor | None = None
                      ) -> tuple[Tensor, Tensor | None, Tensor]:
    """Each run's minibatch loss E [R], Omega [R] (``None`` without ``omega_weights``) and gradient g [R, P].

        g = dE/dtheta + alpha dOmega/dW_rec       (Pascanu 2013, eq. 10; states x_k and errors dE/dx_k held
                                                   constant, so only Omega's immediate derivative enters)
    """
    params = flat.detach().requires_grad_(True)
    outputs, states = forward(params, layout, inputs, activation, spec.readout == "every_step")
    loss = loss_per_run(spec, outputs, targets)
    cost = loss.sum()  # runs are independent: d(sum)/d(theta_r) is run r's own gradient
    reg = None
    if omega_weights is not None:
        errors = torch.autograd.grad(cost, states, retain_graph=True)  # D_k = dE/dh_k
        w_rec = layout.unflatten(params)["w_rec"]
        reg = omega([h.detach() for h in states], [d.detach() for d in errors], w_rec, activation)
        cost = cost + (omega_weights * reg).sum()  # E + alpha Omega
    (grads,) = torch.autograd.grad(cost, params)
    return loss.detach(), (None if reg is None else reg.detach()), grads


def _batch(task: str, batch: int, length: int, generators: list[torch.Generator], run_index: Tensor,
           dtype, device=None) -> tuple[Tensor, Tensor]:
    """One batch per data stream (each from its own generator), stacked to [runs, batch, ...] on ``device``.

    ``run_index[r]`` is the stream of run r: runs with the same seed see the same data (paired comparisons).
    The streams are CPU generators (the same sequences on every machine; the arithmetic tasks' lengths are
    drawn, a host decision): each batch is made on the CPU and copied to the training device, a
    host-to-device copy per step, never a wait for the device.
    """
    spec = get_task(task)
    total = None
    if spec.readout == "regress":  # the runs share the jittered length so their batches stack
        total = arithmetic_length(length, generators[0])
    pairs = [generate(task, batch, length, g, total_length=total) for g in generators]
    inputs = torch.stack([p[0] for p in pairs]).to(dtype)[run_index].to(device, non_blocking=True)
    targets = torch.stack([p[1] for p in pairs])[run_index].to(device, non_blocking=True)
    return inputs, (targets.to(dtype) if targets.is_floating_point() else targets)


@dataclass
class TaskProblem:
    """A task as a :func:`steplab.trajectory.run` problem: ``oracle`` draws each run's minibatch from that run's
    data stream and returns (E [R], g [R, P]) of :func:`training_gradient`; it appends Omega to ``omega_record``.
    """

    task: str
    length: int
    batch: int
    layout: RNNLayout
    activation: str
    dtype: torch.dtype
    generators: list[torch.Generator]
    run_index: Tensor
    omega_weights: Tensor | None = None
    omega_record: list[Tensor] = field(default_factory=list)

    def oracle(self, params: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        inputs, targets = _batch(self.task, self.batch, self.length, self.generators, self.run_index, self.dtype,
                                 params.device)
        loss, reg, grads = training_gradient(params, self.layout, get_task(self.task), inputs, targets,
                                             self.activation, self.omega_weights)
        self.omega_record.append(torch.zeros_like(loss) if reg is None else reg)
        return loss, grads

    def loss(self, params: Tensor) -> Tensor:
        """Not evaluated (0): a minibatch loss after the last step would draw a batch from the data streams."""
        return params.new_zeros(params.shape[0])


def guarded_sgd(lr: float, layout: RNNLayout, clip_thresholds: Tensor, active: Tensor) -> GradientTransform:
    """The update lr * clip_with_nan_guard(g) of every ``active`` run (0 for a stopped one), as a transform."""
    mask = active[:, None]
    check_threshold("clip_thresholds", clip_thresholds)  # once, not in every step

    def update(grads, state, params, info=None):
        step, norms = clip_with_nan_guard(grads, params, layout, clip_thresholds, checked=True)  # min(1, c/||g||) g
        if info is not None:
            info["grad_norm"] = norms
            info["clipped_grad_norm"] = run_norm(step)
        return lr * step * mask.to(step.dtype), state  # the driver does theta <- theta - lr g

    return GradientTransform(lambda params: (), update, "guarded_sgd")


def _per_run(values, runs: int, name: str) -> list:
    values = list(values) if isinstance(values, (list, tuple)) else [values]
    if len(values) == 1:
        values = values * runs
    if len(values) != runs:
        raise ValueError(f"{name} must have 1 or {runs} entries, got {len(values)}")
    return values


def _generators(seeds: list[int], offset: int, states: tuple[Tensor, ...] | None) -> list[torch.Generator]:
    generators = [torch.Generator().manual_seed(s + offset) for s in seeds]
    for generator, state in zip(generators, states or ()):
        generator.set_state(state)
    return generators


def train(task: str = "temporal_order", length: int = 20, seeds=(0,), clip_thresholds=(None,),
          omega_weights=(0.0,), hidden_size: int = 50, batch: int = 20, lr: float = 0.1,
          init: str = "basic_tanh", activation: str = "tanh", max_iterations: int = 2000,
          eval_every: int = 250, eval_size: int = 1000, target_error: float = 0.01,
          dtype: torch.dtype = torch.float32, progress: bool = False, threads: int | None = 1,
          resume: TrainingState | None = None, device=None) -> TrainingResult:
    """Train one RNN per run (runs = the longest of ``seeds``, ``clip_thresholds``, ``omega_weights``).

    The defaults are a CPU-sized version of Pascanu et al. (2013, Sec. 4.1.1): temporal order at T = 20,
    basic tanh initialization, 50 units and minibatch 20 as in the paper, lr 0.1 where the paper uses 0.01
    (our choice, so that T = 20 trains within a few thousand iterations).
    ``threads``: torch CPU threads while training (the matrices are tiny, so one thread is fastest on a
    shared CPU; restored afterwards; ``None`` leaves the setting alone).
    ``resume``: the ``state`` of an earlier result with the same settings; trains ``max_iterations`` more.
    Every call ends with an evaluation, so the runs continue exactly as one long call would when the
    earlier call's ``max_iterations`` is a multiple of ``eval_every``.
    ``device``: where the RNNs train (None: :func:`steplab.device.resolve_device` for runs x batch x hidden numbers
    per step); initial weights and data are drawn on the CPU (the same on every machine) and moved there. The
    host looks at the runs only at evaluations (whether any run is still active).
    """
    with cpu_threads(threads):
        return _train(task, length, seeds, clip_thresholds, omega_weights, hidden_size, batch, lr, init, activation,
                      max_iterations, eval_every, eval_size, target_error, dtype, progress, resume, device)


def _train(task, length, seeds, clip_thresholds, omega_weights, hidden_size, batch, lr, init, activation,
           max_iterations, eval_every, eval_size, target_error, dtype, progress, resume, device) -> TrainingResult:
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
    device = resolve_device(device, work_items=runs * batch * hidden_size)
    streams = sorted(set(seeds))
    run_index = torch.tensor([streams.index(s) for s in seeds])  # indexes the CPU-made batches
    if resume is None:
        flat = init_params(layout, init, seeds, dtype).to(device)
        start, solved_at = 0, torch.full((runs,), -1, dtype=torch.long, device=device)
    else:
        if tuple(resume.params.shape) != (runs, layout.size):
            raise ValueError(f"resume.params has shape {tuple(resume.params.shape)}, these settings need "
                             f"{(runs, layout.size)}")
        flat, start = resume.params.to(device, copy=True), resume.iteration
        solved_at = resume.solved_at.to(device, copy=True)
    threshold_t = torch.tensor([math.inf if c is None else c for c in thresholds], dtype=dtype, device=device)
    alpha_t = torch.tensor(alphas, dtype=dtype, device=device) if any(a > 0 for a in alphas) else None
    data_gens = _generators(streams, DATA_SEED_OFFSET, None if resume is None else resume.data_streams)
    eval_gens = _generators(streams, EVAL_SEED_OFFSET, None if resume is None else resume.eval_streams)
    problem = TaskProblem(task, length, batch, layout, activation, dtype, data_gens, run_index, alpha_t)

    grad_norms, losses, eval_steps, eval_errors = [], [], [], []
    active = solved_at < 0
    any_active = resume is None or bool(active.any())  # the host looks again only after each evaluation
    done, end = start, start + max_iterations
    bar = _progress_bar(progress, max_iterations, f"{task} T={length}")
    while done < end and any_active:
        chunk = min(eval_every - done % eval_every, end - done)
        traj = run(problem, guarded_sgd(lr, layout, threshold_t, active), flat, chunk, seed=None,
                   record_every=None, max_loss=math.inf)
        flat, done = traj.final, done + chunk
        stopped = torch.full_like(traj.grad_norm, math.nan)
        grad_norms.append(torch.where(active, traj.grad_norm, stopped))
        losses.append(torch.where(active, traj.loss[:chunk], stopped))
        if bar is not None:
            bar.update(chunk)
        if done % eval_every == 0 or done == end:
            errors_now = evaluate(task, length, flat, layout, eval_gens, run_index, eval_size, activation, dtype)
            eval_steps.append(done)
            eval_errors.append(errors_now)
            newly = active & (errors_now < target_error)
            solved_at = torch.where(newly, done, solved_at)
            active = active & ~newly
            if done < end:
                any_active = bool(active.any())
    if bar is not None:
        bar.close()

    state = TrainingState(flat, done, solved_at, tuple(g.get_state() for g in data_gens),
                          tuple(g.get_state() for g in eval_gens))
    empty = torch.empty(0, runs, dtype=dtype, device=device)
    return TrainingResult(task, length, seeds, thresholds, alphas, torch.cat(grad_norms or [empty]),
                          torch.cat(losses or [empty]),
                          torch.stack(problem.omega_record) if problem.omega_record else empty,
                          torch.tensor(eval_steps, dtype=torch.long, device=device),
                          torch.stack(eval_errors) if eval_errors else empty,
                          solved_at, flat, layout, state)


def _progress_bar(enabled: bool, total: int, desc: str):
    if not enabled:
        return None
    return require("tqdm.auto", "a progress bar (progress=True)").tqdm(total=total, desc=desc, leave=False)


@torch.no_grad()
def evaluate(task: str, length: int, flat: Tensor, layout: RNNLayout, generators: list[torch.Generator],
             run_index: Tensor, size: int = 1000, activation: str = "tanh", dtype: torch.dtype = torch.float32,
             chunk: int = 500) -> Tensor:
    """Fraction of wrong answers of each run on ``size`` fresh sequences (in chunks to bound memory), computed on
    ``flat``'s device."""
    spec = get_task(task)
    wrong, seen = torch.zeros(flat.shape[0], dtype=dtype, device=flat.device), 0
    while seen < size:
        n = min(chunk, size - seen)
        inputs, targets = _batch(task, n, length, generators, run_index, dtype, flat.device)
        outputs, _ = forward(flat, layout, inputs, activation, spec.readout == "every_step")
        wrong += error_per_run(spec, outputs, targets) * n
        seen += n
    return wrong / size
