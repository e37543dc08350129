"""The vanishing side: how the back-propagated error ||dE_T/dh_k|| decays with the distance T - k.

For each of the paper's three initialisations (Pascanu 2013, Sec. 4.1.1: sigmoid RNN with N(0, 0.01^2)
weights, tanh with N(0, 0.1^2), tanh with sparse W_rec at spectral radius 0.95), we train on temporal order
with clipping (MSGD-C) and with clipping + Omega (MSGD-CR, alpha = 2) for a few iterations from the same start
and data, then measure on fresh sequences

    ||dE/dh_k||  (mean over the batch),  k = 1..T,   plotted against T - k

(the gradient reaching step k from the loss at the last step; eq. 5's product of Jacobians times dE/dh_T).
Omega (eq. 10) penalises exactly the step-to-step change of this norm, so under MSGD-CR the curve should
decay more slowly. The dashboard's RNN page draws it beside the cliff.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from steplab.rnn.model import forward
from steplab.rnn.tasks import generate, get_task, loss_per_run
from steplab.rnn.train import train
from steplab.validation import check_int

Tensor = torch.Tensor
INIT_ACTIVATION = {"sigmoid": "sigmoid", "basic_tanh": "tanh", "smart_tanh": "tanh"}


def error_norms(flat: Tensor, layout, task: str, length: int, activation: str, seed: int = 0,
                batch: int = 100) -> Tensor:
    """``[runs, T]``: mean over ``batch`` fresh sequences of ||dE/dh_k||, ordered by distance T - k = 0..T-1."""
    spec = get_task(task)
    inputs, targets = generate(task, batch, length, torch.Generator().manual_seed(seed))  # CPU data, then moved
    runs = flat.shape[0]
    inputs = inputs.to(dtype=flat.dtype, device=flat.device)[None].expand(runs, *inputs.shape)
    targets = targets.to(flat.device)[None].expand(runs, *targets.shape)
    params = flat.detach().requires_grad_(True)
    outputs, states = forward(params, layout, inputs, activation, spec.readout == "every_step")
    errors = torch.autograd.grad(loss_per_run(spec, outputs, targets).sum(), states)  # D_k = dE/dh_k
    norms = torch.stack([d.norm(dim=-1).mean(-1) for d in errors], dim=1)  # ||D_k||, k = 1..T
    return norms.flip(1)  # column j: distance T - k = j


@dataclass(frozen=True)
class VanishingView:
    """``norms[(init, method)]`` [T] against ``distance`` [T] after ``iterations`` of MSGD-C or MSGD-CR."""

    length: int
    iterations: int
    distance: Tensor
    norms: dict


def vanishing_view(length: int = 50, iterations: int = 100, omega_weight: float = 2.0, seed: int = 0,
                   task: str = "temporal_order", device=None) -> VanishingView:
    """Train each initialisation with (MSGD-CR) and without (MSGD-C) Omega, then measure :func:`error_norms`."""
    check_int("length", length, 2)
    check_int("iterations", iterations, 1)
    norms = {}
    for init, activation in INIT_ACTIVATION.items():
        result = train(task, length, seeds=(seed, seed), clip_thresholds=(1.0,), omega_weights=(0.0, omega_weight),
                       init=init, activation=activation, max_iterations=iterations, eval_every=iterations,
                       eval_size=100, device=device)
        measured = error_norms(result.params, result.layout, task, length, activation, seed + 50_000)
        norms[(init, "MSGD-C")], norms[(init, "MSGD-CR")] = measured[0], measured[1]
    return VanishingView(length, iterations, torch.arange(length, device=measured.device), norms)
