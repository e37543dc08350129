"""Composable gradient transforms in the optax spirit, batched over a leading runs dimension.

A transform is a pair of pure functions

    init(params) -> state
    update(grads, state, params, info=None) -> (updates, state)

``params`` and ``grads`` have shape ``[runs, *dims]``. The driver applies the result as a
descent step, ``x <- x - updates``, so ``chain(heavy_ball(beta), scale(lr))`` is exactly
``torch.optim.SGD(lr=lr, momentum=beta, dampening=0)``.

Every hyper-parameter (``threshold``, ``beta``, ``lr``) may be a Python number or a tensor of
shape ``[runs]`` giving one value per run, so a sweep over 12 step sizes is one call.
Clipping transforms write ``info["grad_norm"]`` and ``info["clipped_grad_norm"]`` (shape
``[runs]``) when the caller passes an ``info`` dict; that is how the trajectory driver records
gradient norms before and after clipping without computing them twice. A clip threshold of
``float("inf")`` means "no clipping" (the factor min(1, inf/||g||) is exactly 1), so a sweep can mix
clipped and unclipped runs in one tensor.

Heavy ball here is PyTorch's v <- beta v + g, x <- x - lr v (Polyak 1964). The diffusion samplers
(``steplab.diffusion``) use the exponential-average form of Wizadwongsa et al. (2023, Eq. 14),
v_d <- (1 - beta_d) v_d + beta_d p, x <- x + delta v_d. Substituting v_d = beta_d v and p = g turns it
into ours with beta = 1 - beta_d and lr = -delta beta_d; the one difference is the start: their first
call sets v_d = p (a plain first step) where ours starts from v_0 = 0 (first step lr g = -delta beta_d p).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import torch

from steplab.validation import check_range, check_threshold

Tensor = torch.Tensor
_TINY = 1e-300


class GradientTransform(NamedTuple):
    """An ``(init, update)`` pair; ``name`` is for display only."""

    init: Callable[[Tensor], Any]
    update: Callable[..., tuple[Tensor, Any]]
    name: str = "transform"


def per_run(value: float | Tensor, like: Tensor, extra_dims: int | None = None) -> float | Tensor:
    """Broadcast a scalar or a ``[runs]`` tensor against ``like`` (shape ``[runs, *dims]``).

    The tensor is cast to ``like``'s dtype: build per-run float64 parameters in float64
    (``torch.tensor([0.4, 0.6])`` is float32, and 0.4 in float32 is 0.4000000059604645).
    """
    if not isinstance(value, Tensor):
        return value
    value = value.to(device=like.device, dtype=like.dtype)
    if value.ndim == 0:
        return value
    if value.shape[0] != like.shape[0]:
        raise ValueError(f"per-run parameter has {value.shape[0]} entries but there are {like.shape[0]} runs")
    trailing = like.ndim - 1 if extra_dims is None else extra_dims
    return value.reshape(value.shape[0], *([1] * trailing))


class PerRun:
    """A hyper-parameter as :func:`per_run` gives it, made once per (device, dtype, shape) of the runs and kept:
    a per-run tensor built on the CPU for runs on a GPU is copied there once, not in every step."""

    def __init__(self, value: float | Tensor):
        self.value = value
        self._made: dict = {}

    def like(self, like: Tensor, extra_dims: int | None = None) -> float | Tensor:
        if not isinstance(self.value, Tensor):
            return self.value
        key = (like.device, like.dtype, like.shape[0], like.ndim, extra_dims)
        if key not in self._made:
            self._made[key] = per_run(self.value, like, extra_dims)
        return self._made[key]


def run_norm(x: Tensor, start_dim: int = 1) -> Tensor:
    """Euclidean norm of each run's slice: ``[runs, *dims] -> [runs]``."""
    return torch.linalg.vector_norm(x.flatten(start_dim), dim=-1)


def clip_factor(norms: Tensor, threshold: float | Tensor) -> Tensor:
    """``min(1, c / ||g||)`` with ``0/0`` read as 1 (a zero gradient is left alone), and 1 for ``c = inf``."""
    return torch.clamp(threshold / torch.clamp(norms, min=_TINY), max=1.0)  # min(1, c / max(||g||, 1e-300))


def _axpy(a: float | Tensor, x: Tensor, y: Tensor) -> Tensor:
    """a * x + y in one fused kernel (a a number or a broadcastable per-run tensor)."""
    return torch.addcmul(y, x, a) if isinstance(a, Tensor) else torch.add(y, x, alpha=a)


def _stateless(fn: Callable[[Tensor, Tensor, dict | None], Tensor], name: str) -> GradientTransform:
    def init(params: Tensor) -> tuple:
        return ()

    def update(grads, state, params=None, info=None):
        return fn(grads, params, info), state

    return GradientTransform(init, update, name)


def clip_by_norm(threshold: float | Tensor) -> GradientTransform:
    """Norm clipping of each run's whole gradient.

    clip_c(g) = min(1, c / ||g||) * g        (Pascanu et al. 2013, Alg. 1; Koloskova et al. 2023)

    ``threshold = float("inf")`` (per run or for all) leaves the gradient unchanged.
    """
    check_threshold("threshold", threshold)
    c = PerRun(threshold)

    def fn(grads, params, info):
        norms = run_norm(grads)
        factor = clip_factor(norms, c.like(norms, 0))
        if info is not None:
            info["grad_norm"] = norms
            info["clipped_grad_norm"] = norms * factor
        return grads * factor.reshape(-1, *([1] * (grads.ndim - 1)))  # clip_c(g) = min(1, c/||g||) g

    return _stateless(fn, "clip_by_norm")


def clip_per_sample(threshold: float | Tensor) -> GradientTransform:
    """Mean of per-sample clipped gradients (the DP-SGD form).

    g = (1/b) sum_i clip_c(g_i)        (per-sample clipping as in DP-SGD, Abadi et al. 2016; Koloskova et al. 2023)

    ``grads`` has shape ``[runs, batch, *dims]``; the result has shape ``[runs, *dims]``.
    """
    check_threshold("threshold", threshold)
    c = PerRun(threshold)

    def fn(grads, params, info):
        if grads.ndim < 3:
            raise ValueError("clip_per_sample expects per-sample gradients of shape [runs, batch, *dims]")
        norms = run_norm(grads, start_dim=2)  # [runs, batch]
        factor = clip_factor(norms, c.like(norms, 1))
        clipped = grads * factor.reshape(*factor.shape, *([1] * (grads.ndim - 2)))  # clip_c(g_i)
        out = clipped.mean(dim=1)  # g = (1/b) sum_i clip_c(g_i)
        if info is not None:
            info["grad_norm"] = run_norm(grads.mean(dim=1))
            info["clipped_grad_norm"] = run_norm(out)
        return out

    return _stateless(fn, "clip_per_sample")


def clip_coordinatewise(threshold: float | Tensor) -> GradientTransform:
    """Clip every coordinate to ``[-c, c]``: g_j <- sign(g_j) min(|g_j|, c)   (Zhang et al. 2020)."""
    check_threshold("threshold", threshold)

    c_per_run = PerRun(threshold)

    def fn(grads, params, info):
        c = c_per_run.like(grads)
        clipped = torch.clamp(grads, -c, c)  # g_j <- sign(g_j) min(|g_j|, c)
        if info is not None:
            info["grad_norm"] = run_norm(grads)
            info["clipped_grad_norm"] = run_norm(clipped)
        return clipped

    return _stateless(fn, "clip_coordinatewise")


def scale(lr: float | Tensor) -> GradientTransform:
    """Multiply by the step size: u <- lr * u."""
    check_range("lr", lr, 0.0)
    step = PerRun(lr)

    def fn(grads, params, info):
        return grads * step.like(grads)  # u <- lr u

    return _stateless(fn, "scale")


def momentum(beta: float | Tensor, nesterov: bool | Tensor = False) -> GradientTransform:
    """Heavy-ball or Nesterov momentum in PyTorch's convention, chosen for all runs or per run.

    v_{t+1} = beta v_t + g_t,  v_0 = 0
    u_t = v_{t+1}                 heavy ball   (Polyak 1964; torch.optim.SGD)
    u_t = g_t + beta v_{t+1}      Nesterov     (Sutskever et al. 2013; torch.optim.SGD(nesterov=True))

    ``nesterov`` is a bool (every run) or a bool tensor ``[runs]`` (a mixed overlay in one tensor
    program; ``beta = 0`` in a run makes it plain GD). With ``scale(lr)`` after it, heavy ball is
    x_{t+1} = x_t - lr g_t + beta (x_t - x_{t-1}). For the diffusion samplers' (1 - beta) form, see the
    module docstring.
    """
    check_range("beta", beta, 0.0, 1.0, high_inclusive=False)
    if isinstance(nesterov, Tensor) and nesterov.dtype != torch.bool:
        raise ValueError(f"nesterov must be a bool or a bool tensor, got a {nesterov.dtype} tensor")
    name = "momentum" if isinstance(nesterov, Tensor) else "nesterov" if nesterov else "heavy_ball"
    beta_per_run = PerRun(beta)
    masks: dict = {}  # the Nesterov mask on the runs' device, made once per device and shape

    def init(params):
        return torch.zeros_like(params)

    def update(grads, velocity, params=None, info=None):
        b = beta_per_run.like(grads)
        velocity = _axpy(b, velocity, grads)  # v_{t+1} = beta v_t + g_t
        if nesterov is False:
            return velocity, velocity  # u_t = v_{t+1}
        look_ahead = _axpy(b, velocity, grads)  # u_t = g_t + beta v_{t+1}
        if nesterov is True:
            return look_ahead, velocity
        key = (grads.device, grads.ndim)
        if key not in masks:
            masks[key] = nesterov.to(grads.device).reshape(-1, *([1] * (grads.ndim - 1)))
        mask = masks[key]
        return torch.where(mask, look_ahead, velocity), velocity

    return GradientTransform(init, update, name)


def heavy_ball(beta: float | Tensor) -> GradientTransform:
    """Polyak heavy ball, v_{t+1} = beta v_t + g_t, u_t = v_{t+1}: ``momentum(beta, nesterov=False)``."""
    return momentum(beta, False)


def nesterov(beta: float | Tensor) -> GradientTransform:
    """Nesterov momentum, u_t = g_t + beta v_{t+1}: ``momentum(beta, nesterov=True)``."""
    return momentum(beta, True)


def identity() -> GradientTransform:
    """Plain gradient: u = g."""
    return _stateless(lambda grads, params, info: grads, "identity")


def chain(*transforms: GradientTransform) -> GradientTransform:
    """Apply transforms left to right: ``chain(clip_by_norm(c), heavy_ball(b), scale(lr))``."""
    if not transforms:
        raise ValueError("chain needs at least one transform")

    def init(params):
        return tuple(t.init(params) for t in transforms)

    def update(grads, state, params=None, info=None):
        new_state = []
        for transform, inner in zip(transforms, state):
            grads, inner = transform.update(grads, inner, params, info)
            new_state.append(inner)
        return grads, tuple(new_state)

    return GradientTransform(init, update, " -> ".join(t.name for t in transforms))


def optimizer(
    lr: float | Tensor,
    momentum: float | Tensor = 0.0,
    method: str = "gd",
    clip_threshold: float | Tensor | None = None,
) -> GradientTransform:
    """Convenience: ``[clip_by_norm] -> {identity | heavy_ball | nesterov} -> scale`` by name.

    ``method`` is one of ``"gd"``, ``"heavy_ball"``, ``"nesterov"``.
    """
    stages = []
    if clip_threshold is not None:
        stages.append(clip_by_norm(clip_threshold))
    if method == "gd":
        pass
    elif method == "heavy_ball":
        stages.append(heavy_ball(momentum))
    elif method == "nesterov":
        stages.append(nesterov(momentum))
    else:
        raise ValueError(f"method must be one of 'gd', 'heavy_ball', 'nesterov', got {method!r}")
    stages.append(scale(lr))
    return chain(*stages)
