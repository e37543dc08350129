"""The trajectory driver: advance many runs of an optimizer together and record what happened.

    x_{t+1} = x_t - u_t,   (u_t, s_{t+1}) = transform.update(grad f(x_t) [+ noise], s_t, x_t)

All runs share one tensor program (no Python loop over runs). A run *diverges* at step t when
its loss f(x_t) is non-finite or exceeds ``max_loss``; from then on its iterate is frozen (its
updates are masked to zero) while the other runs go on unaffected.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from steplab.device import make_generator
from steplab.optional import require
from steplab.transforms import GradientTransform, run_norm
from steplab.validation import check_int

Tensor = torch.Tensor


@dataclass
class Trajectory:
    """What one call of :func:`run` recorded. Shapes use R = runs, T = steps.

    iterates:          [K, R, *dims]  x at the steps in ``recorded_steps`` (K of them)
    recorded_steps:    [K]            which t each row of ``iterates`` is
    loss:              [T + 1, R]     f(x_t) for t = 0..T (frozen after divergence)
    grad_norm:         [T, R]         ||g_t|| of the oracle's gradient (before clipping)
    clipped_grad_norm: [T, R]         ||g_t|| after the clipping stage (= grad_norm when none)
    diverged_at:       [R]            first t with a bad loss, or -1
    final:             [R, *dims]     x_T (frozen value for diverged runs)
    state:                            the optimizer state after step T (pass it back to
                                      :func:`run` with ``x0=final`` to continue the runs)
    """

    iterates: Tensor
    recorded_steps: Tensor
    loss: Tensor
    grad_norm: Tensor
    clipped_grad_norm: Tensor
    diverged_at: Tensor
    final: Tensor
    max_loss: float
    state: object = None

    @property
    def steps(self) -> int:
        return self.grad_norm.shape[0]

    @property
    def runs(self) -> int:
        return self.loss.shape[1]

    @property
    def diverged(self) -> Tensor:
        """Boolean mask ``[R]`` of runs that diverged."""
        return self.diverged_at >= 0

    def divergence_message(self, run: int) -> str:
        """``'diverged at step 37 (loss = inf)'`` or ``'converging'``-style status for one run."""
        step = int(self.diverged_at[run])
        if step < 0:
            return f"did not diverge in {self.steps} steps"
        value = float(self.loss[step, run])
        reason = "loss is not finite" if not math.isfinite(value) else f"loss {value:.3g} > {self.max_loss:.3g}"
        return f"diverged at step {step} ({reason})"

    def to(self, device: torch.device | str) -> Trajectory:
        """A copy with every recorded tensor on ``device`` (e.g. ``"cpu"`` for plotting)."""
        fields = {k: (v.to(device) if isinstance(v, Tensor) else v) for k, v in self.__dict__.items()}
        return Trajectory(**fields)


def _progress(steps: int, enabled: bool, desc: str):
    if not enabled:
        return range(steps)
    tqdm = require("tqdm.auto", "a progress bar (progress=True)").tqdm  # optional, imported only when asked for
    return tqdm(range(steps), desc=desc, leave=False)


def run(
    problem,
    transform: GradientTransform,
    x0: Tensor,
    steps: int,
    *,
    seed: int | None = 0,
    generator: torch.Generator | None = None,
    record_every: int | None = 1,
    max_loss: float = 1e12,
    state=None,
    progress: bool = False,
    desc: str = "steps",
) -> Trajectory:
    """Run ``steps`` iterations of ``transform`` on ``problem`` for every run in ``x0``.

    Args:
        problem: has ``oracle(x, generator) -> (loss [R], grad)`` and ``loss(x)``.
        transform: a :class:`GradientTransform`; hyper-parameters may be per-run tensors.
        x0: starting points, shape ``[R, *dims]`` (one row per run).
        steps: number of updates T (at least 1).
        seed / generator: randomness for stochastic oracles (explicit, never global).
        record_every: keep every k-th iterate (``None``: only x_0 and x_T) to bound memory.
        max_loss: a run whose loss exceeds this (or is NaN/inf) is marked diverged and frozen.
        state: optimizer state to resume from (e.g. the dashboard continuing a paused run).
        progress: show a tqdm progress bar.
    """
    check_int("steps", steps, 1)
    if not max_loss > 0:  # math.inf is allowed: then only non-finite losses count as divergence
        raise ValueError(f"max_loss must be in (0, inf], got {max_loss!r}")
    if record_every is not None:
        check_int("record_every", record_every, 1)
    if x0.ndim < 2:
        raise ValueError(f"x0 must have shape [runs, *dims], got {tuple(x0.shape)}")
    if generator is None and seed is not None:
        generator = make_generator(seed, x0.device)

    runs = x0.shape[0]
    x = x0.clone()
    state = transform.init(x) if state is None else state
    losses = x.new_empty(steps + 1, runs)
    grad_norms = x.new_empty(steps, runs)
    clipped_norms = x.new_empty(steps, runs)
    diverged_at = torch.full((runs,), -1, dtype=torch.long, device=x.device)
    alive = torch.ones(runs, dtype=torch.bool, device=x.device)
    any_dead = False
    kept, kept_steps = [x.clone()], [0]
    mask_shape = (runs, *([1] * (x.ndim - 1)))

    for t in _progress(steps, progress, desc):
        loss, grads = problem.oracle(x, generator)
        losses[t] = loss
        newly = alive & ~(loss <= max_loss)  # catches NaN too
        if bool(newly.any()):
            diverged_at[newly] = t
            alive &= ~newly
            any_dead = True
        info: dict = {}
        updates, state = transform.update(grads, state, x, info)
        raw = info.get("grad_norm")
        grad_norms[t] = run_norm(grads if grads.ndim == x.ndim else grads.mean(1)) if raw is None else raw
        clipped_norms[t] = info.get("clipped_grad_norm", grad_norms[t])
        if any_dead:
            updates = torch.where(alive.reshape(mask_shape), updates, torch.zeros((), dtype=x.dtype, device=x.device))
        x.sub_(updates)
        if record_every is not None and (t + 1) % record_every == 0:
            kept.append(x.clone())
            kept_steps.append(t + 1)

    final_loss = problem.loss(x)
    losses[steps] = final_loss
    newly = alive & ~(final_loss <= max_loss)
    diverged_at[newly] = steps
    if kept_steps[-1] != steps:
        kept.append(x.clone())
        kept_steps.append(steps)
    return Trajectory(
        iterates=torch.stack(kept),
        recorded_steps=torch.tensor(kept_steps, device=x.device),
        loss=losses,
        grad_norm=grad_norms,
        clipped_grad_norm=clipped_norms,
        diverged_at=diverged_at,
        final=x,
        max_loss=max_loss,
        state=state,
    )

