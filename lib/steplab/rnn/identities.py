"""Identities of the RNN pieces: checks of our code against the algebra, not evidence from the paper's experiments.

The vanishing bound (eqs. 6-7), Omega on scaled orthogonal matrices (eq. 10) and Algorithm 1's clipping
invariants hold by construction whenever the code is right; the claims built on them are labelled "identity"
(unit tests of the implementation), unlike the reproduced experiments of :mod:`steplab.rnn.experiments`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from steplab.device import resolve_device, to_host
from steplab.rnn.model import GAMMA, RNNLayout, clip_with_nan_guard, jacobian_product_norms, omega, scaled_orthogonal

Tensor = torch.Tensor


@dataclass(frozen=True)
class JacobianNorms:
    """||dx_t/dx_0|| ``[steps + 1, len(lambdas)]`` and its bound (lambda_1 gamma)^t for one activation."""

    activation: str
    lambdas: tuple[float, ...]
    norms: Tensor
    bound: Tensor
    ratio_max: float  # max_t norm / bound for the first (below 1/gamma) lambda_1


@dataclass(frozen=True)
class VanishingCheck:
    cases: tuple[JacobianNorms, ...]

    def of(self, activation: str) -> JacobianNorms:
        return next(c for c in self.cases if c.activation == activation)


def vanishing_check(steps: int = 50, size: int = 50, seed: int = 0, device=None) -> VanishingCheck:
    """||dx_t/dx_0|| against (lambda_1 gamma)^t (eqs. 6-7), lambda_1 below 1/gamma (tanh 0.9, sigmoid 3.6) and above.

    On ``device`` (None: :func:`steplab.device.resolve_device` for 3 x size x size numbers); the norms come back
    to the CPU."""
    cases = []
    device = resolve_device(device, work_items=3 * size * size)
    for activation, lambdas in (("tanh", (0.9, 1.5, 3.0)), ("sigmoid", (3.6, 6.0, 12.0))):
        w = scaled_orthogonal(size, torch.tensor(lambdas), seed).to(device)
        norms = to_host(jacobian_product_norms(w, steps, activation, seed=seed))
        t = torch.arange(steps + 1, dtype=torch.float64)
        bound = (torch.tensor(lambdas, dtype=torch.float64)[None, :] * GAMMA[activation]) ** t[:, None]
        cases.append(JacobianNorms(activation, lambdas, norms, bound, float((norms[:, 0] / bound[:, 0]).max())))
    return VanishingCheck(tuple(cases))


def omega_on_scaled_orthogonal(scales=(1.0, 0.5, 2.0), size: int = 20, batch: int = 8, steps: int = 5,
                               dtype: torch.dtype = torch.float64, device=None) -> Tensor:
    """Omega [len(scales)] for a linear RNN with W_rec = s Q, random states and errors: (s^2 - 1)^2 (eq. 10).

    Drawn on the CPU, computed on ``device`` (None: ``resolve_device`` for the states' numbers), returned on the CPU."""
    to = dict(dtype=dtype, device=resolve_device(device, work_items=len(scales) * batch * size))
    w_rec = scaled_orthogonal(size, torch.tensor(scales), seed=1).to(**to)
    generator = torch.Generator().manual_seed(2)
    states = [torch.randn(len(scales), batch, size, generator=generator).to(**to) for _ in range(steps)]
    errors = [torch.randn(len(scales), batch, size, generator=generator).to(**to) for _ in range(steps)]
    return to_host(omega(states, errors, w_rec, "linear"))


@dataclass(frozen=True)
class ClipInvariants:
    """max ||clip(g)|| / c, min cos(clip(g), g), small gradients untouched, the NaN guard's step right."""

    max_ratio: float
    min_cosine: float
    small_unchanged: bool
    guard_ok: bool


def clip_invariants(threshold: float = 1.0, runs: int = 64, seed: int = 0, device=None) -> ClipInvariants:
    """Clip random gradients (norms 1e-3..1e3) and one NaN gradient with :func:`clip_with_nan_guard` (Alg. 1), on
    ``device`` (None: ``resolve_device`` for runs x parameters numbers; drawn on the CPU and moved)."""
    layout = RNNLayout(6, 10, 4)
    generator = torch.Generator().manual_seed(seed)
    grads = torch.randn(runs, layout.size, generator=generator, dtype=torch.float64)
    grads = grads * torch.logspace(-3, 3, runs, dtype=torch.float64)[:, None] / grads.norm(dim=1, keepdim=True)
    params = torch.randn(runs, layout.size, generator=generator, dtype=torch.float64)
    grads[-1, 0] = float("nan")
    device = resolve_device(device, work_items=runs * layout.size)
    grads, params = grads.to(device), params.to(device)
    clipped, norms = clip_with_nan_guard(grads, params, layout, threshold)
    good, small = clipped[:-1], norms[:-1] <= threshold
    cosine = (good * grads[:-1]).sum(1) / (good.norm(dim=1) * grads[:-1].norm(dim=1))
    rec = layout.slices()["w_rec"]
    guard_ok = bool(torch.allclose(clipped[-1, rec], 0.02 * params[-1, rec])) and bool(
        (clipped[-1, : rec.start] == 0).all() and (clipped[-1, rec.stop:] == 0).all())
    return ClipInvariants(float((good.norm(dim=1) / threshold).max()), float(cosine.min()),
                          bool(torch.equal(good[small], grads[:-1][small])), guard_ok)
