"""The trajectory driver: advance many runs of an optimizer together and record what happened.

    x_{t+1} = x_t - u_t,   (u_t, s_{t+1}) = transform.update(grad f(x_t) [+ noise], s_t, x_t)

All runs share one tensor program (no Python loop over runs). A run *diverges* at step t when
its loss f(x_t) is non-finite or exceeds ``max_loss``; from then on its iterate is frozen (its
updates are masked to zero) while the other runs go on unaffected.

Runs are resumable: a :class:`Trajectory` keeps the optimizer state and the generator, so
:func:`resume` (``run`` from ``final``, ``state`` and ``generator``, then :meth:`Trajectory.extend`)
gives, bit for bit, the trajectory one longer call would have recorded. A run frozen by divergence
stays frozen: the continuation sees its loss above ``max_loss`` at its first step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from steplab.device import make_generator
from steplab.divergence import loss_growth
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
    state:                            the optimizer state after step T
    generator:                        the noise generator, at its position after step T (shared,
                                      not copied); :func:`resume` continues from final, state, generator
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
    generator: torch.Generator | None = None

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
        """One run's status: ``'diverged at step 37 (loss is not finite)'``, ``'diverged at step 37 (loss 2e+12 >
        1e+12)'``, ``'diverging: the loss grows ×1.44 per step (steps 25–50); below 1e+12 after 50 steps'`` (a
        geometric climb, :func:`steplab.divergence.loss_growth`) or ``'did not diverge in 60 steps'``."""
        step = int(self.diverged_at[run])
        if step < 0:
            growth = loss_growth(self.loss[:, run])
            if bool(growth.diverging[0]):
                return f"{growth.message(0)}; below {self.max_loss:.3g} after {self.steps} steps"
            return f"did not diverge in {self.steps} steps"
        value = float(self.loss[step, run])
        reason = "loss is not finite" if not math.isfinite(value) else f"loss {value:.3g} > {self.max_loss:.3g}"
        return f"diverged at step {step} ({reason})"

    def to(self, device: torch.device | str) -> Trajectory:
        """A copy with every recorded tensor on ``device`` (e.g. ``"cpu"`` for plotting)."""
        fields = {k: (v.to(device) if isinstance(v, Tensor) else v) for k, v in self.__dict__.items()}
        return Trajectory(**fields)

    def extend(self, continuation: Trajectory) -> Trajectory:
        """This trajectory followed by ``continuation``, a run started from ``self.final`` (see :func:`resume`).

        x_T, recorded by both, is kept once; the loss at T is the continuation's (computed by the oracle, as
        in one long run); steps are renumbered from this trajectory's start; a run keeps the first step it
        diverged at. The result's ``state``, ``final`` and ``generator`` are the continuation's.
        """
        if continuation.runs != self.runs or continuation.max_loss != self.max_loss:
            raise ValueError("a continuation must have the same runs and max_loss as the trajectory it extends")
        later = torch.where(continuation.diverged_at >= 0, continuation.diverged_at + self.steps, -1)
        return Trajectory(
            iterates=torch.cat([self.iterates, continuation.iterates[1:]]),
            recorded_steps=torch.cat([self.recorded_steps, continuation.recorded_steps[1:] + self.steps]),
            loss=torch.cat([self.loss[:-1], continuation.loss]),
            grad_norm=torch.cat([self.grad_norm, continuation.grad_norm]),
            clipped_grad_norm=torch.cat([self.clipped_grad_norm, continuation.clipped_grad_norm]),
            diverged_at=torch.where(self.diverged_at >= 0, self.diverged_at, later),
            final=continuation.final,
            max_loss=self.max_loss,
            state=continuation.state,
            generator=continuation.generator,
        )


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
        x0: starting points, shape ``[R, *dims]`` (one row per run). The run computes on ``x0``'s device (make
            it with ``device=steplab.device.resolve_device(...)``); the problem's tensors must be there too.
        steps: number of updates T (at least 1).
        seed / generator: randomness for stochastic oracles (explicit, never global).
        record_every: keep every k-th iterate (``None``: only x_0 and x_T) to bound memory.
        max_loss: a run whose loss exceeds this (or is NaN/inf) is marked diverged and frozen.
        state: optimizer state to resume from (``Trajectory.state``; :func:`resume` does it all).
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
    elif generator is not None and x0.device.type not in ("meta", generator.device.type):
        raise ValueError(f"generator is on {generator.device} but x0 is on {x0.device}: make it with "
                         f"steplab.device.make_generator(seed, x0.device)")

    runs = x0.shape[0]
    x = x0.clone()
    state = transform.init(x) if state is None else state
    losses = x.new_empty(steps + 1, runs)
    grad_norms = x.new_empty(steps, runs)
    clipped_norms = x.new_empty(steps, runs)
    diverged_at = torch.full((runs,), -1, dtype=torch.long, device=x.device)
    alive = torch.ones(runs, dtype=torch.bool, device=x.device)
    zero = torch.zeros((), dtype=x.dtype, device=x.device)
    kept, kept_steps = [x.clone()], [0]
    mask_shape = (runs, *([1] * (x.ndim - 1)))

    # no host synchronisation in the loop: the divergence bookkeeping is masks (steplab.device's policy)
    for t in _progress(steps, progress, desc):
        loss, grads = problem.oracle(x, generator)
        losses[t] = loss
        newly = alive & ~(loss <= max_loss)  # catches NaN too
        diverged_at = torch.where(newly, t, diverged_at)
        alive &= ~newly
        info: dict = {}
        updates, state = transform.update(grads, state, x, info)
        raw = info.get("grad_norm")
        grad_norms[t] = run_norm(grads if grads.ndim == x.ndim else grads.mean(1)) if raw is None else raw
        clipped_norms[t] = info.get("clipped_grad_norm", grad_norms[t])
        updates = torch.where(alive.reshape(mask_shape), updates, zero)  # a diverged run stays frozen
        x.sub_(updates)  # x_{t+1} = x_t - u_t
        if record_every is not None and (t + 1) % record_every == 0:
            kept.append(x.clone())
            kept_steps.append(t + 1)

    final_loss = problem.loss(x)
    losses[steps] = final_loss
    diverged_at = torch.where(alive & ~(final_loss <= max_loss), steps, diverged_at)
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
        generator=generator,
    )


def resume(problem, transform: GradientTransform, trajectory: Trajectory, steps: int, *,
           record_every: int | None = 1, progress: bool = False, desc: str = "steps") -> Trajectory:
    """``steps`` more iterations of the runs in ``trajectory``; returns the whole run, old steps and new.

    Continues from ``trajectory.final``, ``.state`` and ``.generator`` with its ``max_loss``: the result
    equals one call of :func:`run` for the total number of steps, bit for bit (same ``problem``,
    ``transform`` and batch; with ``record_every = k`` when the first part's steps are a multiple of k).
    """
    continuation = run(problem, transform, trajectory.final, steps, seed=None, generator=trajectory.generator,
                       record_every=record_every, max_loss=trajectory.max_loss, state=trajectory.state,
                       progress=progress, desc=desc)
    return trajectory.extend(continuation)

