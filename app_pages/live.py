"""A run being played on a page: a :class:`~steplab.trajectory.Trajectory` of steps 0..t, grown a few
steps at a time from where it stopped.

The page supplies a *step function* ``step(live, k) -> Trajectory``: k more steps of every run from
``live.x`` (with ``live.state`` and ``live.generator`` where the runs have them), computed in one
batched call with the page's *current* settings. :meth:`Live.advance` calls it, keeps the resume point
(``final``, ``state``, ``generator``) and appends the new steps to :attr:`Live.history` with
:meth:`Trajectory.extend`, optionally summarised first (the clipping page keeps each setting's mean over
its chains, not every chain).

The player (:mod:`app_pages.player`) only needs ``live.t``; the page reads ``live.history``.

Devices: the resume point (``x``, ``state``, ``generator``) stays on the device the runs compute on
(:func:`app_pages.ui.device`); the history is kept on the CPU, because it is what gets drawn: each
:meth:`Live.advance` moves its new (possibly summarised) steps to the host once, never one step at a time.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from steplab.diffusion import integrate, sample
from steplab.trajectory import Trajectory, run

Tensor = torch.Tensor
MAX_LOSS = inspect.signature(run).parameters["max_loss"].default  # the driver's divergence bound


def start_of(x0: Tensor, loss0: Tensor, max_loss: float = MAX_LOSS) -> Trajectory:
    """The zero-step trajectory at ``x0`` (``[R, *dims]``) with losses ``loss0`` (``[R]``), to be extended."""
    runs = x0.shape[0]
    empty = x0.new_empty(0, runs)
    return Trajectory(iterates=x0[None].clone(), recorded_steps=torch.zeros(1, dtype=torch.long, device=x0.device),
                      loss=loss0[None],
                      grad_norm=empty, clipped_grad_norm=empty.clone(),
                      diverged_at=torch.full((runs,), -1, dtype=torch.long, device=x0.device), final=x0.clone(),
                      max_loss=max_loss)


@dataclass
class Live:
    """Every run's resume point and its history so far.

    x:         [R, *dims] the current iterates (what the step function continues from), on the compute device
    history:   steps 0..t, possibly summarised (see :meth:`advance`), on the CPU
    state:     the optimizer state after step t (``None`` for stateless updates)
    generator: the runs' noise stream (``None`` for deterministic oracles)
    notes:     what the page records as the runs go (e.g. why a run diverged, in the words of that moment)
    """

    x: Tensor
    history: Trajectory
    state: object = None
    generator: torch.Generator | None = None
    notes: dict = field(default_factory=dict)

    @classmethod
    def at(cls, x0: Tensor, loss0: Tensor, generator: torch.Generator | None = None,
           history: Trajectory | None = None) -> Live:
        """A fresh run at step 0 from ``x0`` (its history: ``start_of(x0, loss0)`` unless given)."""
        history = start_of(x0, loss0) if history is None else history
        return cls(x=x0.clone(), history=history.to("cpu"), generator=generator)

    @property
    def t(self) -> int:
        return self.history.steps

    def advance(self, step: Callable[[Live, int], Trajectory], k: int,
                summarise: Callable[[Trajectory], Trajectory] | None = None) -> Live:
        """``k`` more steps by ``step(self, k)``; the history grows by ``summarise(new steps)`` (default: as is)."""
        more = step(self, k)
        self.x, self.state, self.generator = more.final, more.state, more.generator or self.generator
        self.history = self.history.extend((more if summarise is None else summarise(more)).to("cpu"))
        return self


@dataclass
class SamplerPath:
    """A sampler's whole path, computed ahead, and how far playback has shown it (``t``): the diffusion page's
    ring and digits modes.

    Not :class:`Live`: a sampler is no optimizer run resumed step by step (its multistep history of ε evaluations
    stays inside ``sample``/``integrate``), so a page integrates the whole σ grid at once and plays a cursor along
    it; a mid-run change re-integrates from x̄_t (:meth:`follow`).
    """

    path: torch.Tensor  # [N+1, B, *dims] x̄ along the σ grid (computed ahead with the sampler in ``plan``)
    plan: tuple  # (method, guidance) the steps after t were computed with
    t: int = 0
    drawn: dict = field(default_factory=dict)  # what the last redraw showed of the samples (counts)

    def cut(self, k: int) -> SamplerPath:
        """The same path shown up to step ``k`` (what a mid-run change continues from: x̄_k)."""
        return SamplerPath(path=self.path, plan=self.plan, t=k)

    @classmethod
    def player(cls, model, plan: tuple, x_t: torch.Tensor, labels: torch.Tensor, eps: Callable,
               grid: torch.Tensor) -> tuple[Callable, Callable]:
        """A sampler page's ``start()`` (the whole path of ``plan`` = (method, guidance) from ``x_t``) and
        ``advance(live, k)`` (:meth:`follow` with that plan), as the players take them."""
        method, guidance = plan
        steps = grid.numel() - 1

        def start() -> SamplerPath:
            _, path = sample(model, method, steps, guidance, x_t, labels, return_path=True)
            return cls(path=path, plan=plan)

        def advance(live: SamplerPath, k: int) -> SamplerPath:
            return live.follow(plan, eps, grid, steps, k)

        return start, advance

    def follow(self, plan: tuple, eps: Callable, grid: torch.Tensor, steps: int, k: int) -> SamplerPath:
        """``k`` more steps shown; if ``plan`` (method, guidance) changed mid-run, keep x̄_t and integrate the rest
        of ``grid`` anew with ``plan``'s method and the ε function ``eps`` (built with ``plan``'s guidance)."""
        if self.plan != plan:
            _, tail = integrate(eps, self.path[self.t], grid[self.t:], plan[0], return_path=True)
            self.path, self.plan = torch.cat([self.path[: self.t], tail]), plan
        self.t = min(self.t + k, steps)
        return self
