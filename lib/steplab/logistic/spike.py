"""Sao (2026) Fig. 6 / Table 1 analogue: a learning-rate spike on a small MLP, with and without the rho_a controller.

Model: MLP 64 -> 128 (ReLU) -> 10 on sklearn Digits (the split of :func:`steplab.logistic.softmax.digits_split`),
PyTorch's default ``nn.Linear`` initialisation (U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases), one
init per seed. Adam (Kingma & Ba 2015, Alg. 1) on minibatches of ``batch`` training points (the same batches for
every run). The learning rate is eta_0, multiplied by ``factor`` for the steps ``spike_start <= t < spike_end``.
Every run of a sweep (seeds x factors x methods) is one row of batched tensors.

Methods (the update p is Adam's step  p = eta_t m_hat / (sqrt(v_hat) + eps)):

* ``plain``:  theta <- theta - p.
* ``clip``:   the gradient is clipped to ||g|| <= 1 before Adam's moments (the usual baseline).
* ``rho``:    Sao's controller (Prop. 5.2)  theta <- theta - min(1, rho_a / ||p||) p, with
  rho_a = pi / max_x (max_k a_k - min_k a_k) and a = J v the logit slopes along v = p / ||p|| (one JVP of the
  minibatch logits, written out for the MLP: da = ((x dW1 + db1) * 1[pre > 0]) W2 + h dW2 + db2).

The normalized step r_t = ||p|| / rho_a of the uncapped update is recorded for every method (Def. 5.1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from steplab.device import resolve_device
from steplab.logistic import ghosts
from steplab.logistic.softmax import DigitsSplit, digits_split
from steplab.validation import check_int, check_positive

Tensor = torch.Tensor
SPIKE_METHODS = ("plain", "clip", "rho")
HIDDEN = 128


@dataclass
class SpikeRuns:
    """What :func:`spike_test` recorded; R = runs (seed-major, then factor, then method), T = steps."""

    methods: list[str]     # [R]
    factors: Tensor        # [R] spike factor
    seeds: Tensor          # [R]
    loss: Tensor           # [T/every + 1, R] full training-set cross-entropy at t = 0, every, 2 every, ..., T
    every: int
    r: Tensor              # [T, R] normalized step ||p_t|| / rho_a of Adam's uncapped update
    test_accuracy: Tensor  # [R] after the last step
    spike_start: int
    spike_end: int


def init_mlp(seeds, dtype=torch.float64, device=None) -> list[Tensor]:
    """W1 [R, 64, 128], b1 [R, 128], W2 [R, 128, 10], b2 [R, 10], drawn as nn.Linear's default per seed."""
    device = resolve_device(device)
    params = []
    for seed in seeds:
        g = torch.Generator().manual_seed(int(seed))
        layer = []
        for fan_in, fan_out in ((64, HIDDEN), (HIDDEN, 10)):
            bound = 1.0 / math.sqrt(fan_in)
            layer.append((torch.rand(fan_in, fan_out, generator=g, dtype=dtype) * 2 - 1) * bound)
            layer.append((torch.rand(fan_out, generator=g, dtype=dtype) * 2 - 1) * bound)
        params.append(layer)
    return [torch.stack([p[k] for p in params]).to(device) for k in range(4)]


def forward(params: list[Tensor], x: Tensor):
    """Logits [R, N, 10] and the hidden pre-activations [R, N, 128] of the MLP for inputs x [N, 64]."""
    w1, b1, w2, b2 = params
    pre = x @ w1 + b1[:, None, :]
    return torch.relu(pre) @ w2 + b2[:, None, :], pre


def cross_entropy(logits: Tensor, y: Tensor) -> Tensor:
    """Mean cross-entropy per run: logits [R, N, 10], labels [N] -> [R]."""
    picked = logits.gather(-1, y.expand(logits.shape[0], -1)[..., None])[..., 0]
    return (torch.logsumexp(logits, -1) - picked).mean(-1)  # mean_x [log sum_k e^{z_k} - z_y]


def logit_slopes(params: list[Tensor], direction: list[Tensor], x: Tensor) -> Tensor:
    """a = J v, the JVP of the logits along ``direction`` (same shapes as params) -> [R, N, 10]."""
    w1, _, w2, _ = params
    d1, db1, d2, db2 = direction
    pre = x @ w1
    active = (pre + params[1][:, None, :] > 0).to(x.dtype)
    hidden = torch.relu(pre + params[1][:, None, :])
    return ((x @ d1 + db1[:, None, :]) * active) @ w2 + hidden @ d2 + db2[:, None, :]  # da = dpre*1[pre>0] W2 + h dW2


def _norm(tensors: list[Tensor]) -> Tensor:
    return torch.sqrt(sum(t.flatten(1).pow(2).sum(-1) for t in tensors))


def _per_run(scale: Tensor, t: Tensor) -> Tensor:
    return scale.reshape(-1, *([1] * (t.ndim - 1)))


def spike_test(eta0: float = 1e-3, factors=(1e3, 1e4), seeds=(0, 1, 2, 3, 4), methods=SPIKE_METHODS,
               steps: int = 220, spike_start: int = 50, spike_end: int = 200, batch: int = 128, every: int = 10,
               split: DigitsSplit | None = None, device=None) -> SpikeRuns:
    """Train every (seed, factor, method) run of the MLP with Adam through the learning-rate spike."""
    check_positive("eta0", eta0)
    check_int("steps", steps, 1)
    check_int("batch", batch, 1)
    check_int("every", every, 1)
    if steps % every:
        raise ValueError(f"steps must be a multiple of every, got {steps} and {every}")
    bad = [m for m in methods if m not in SPIKE_METHODS]
    if bad:
        raise ValueError(f"methods must be among {SPIKE_METHODS}, got {bad}")
    if not 0 <= spike_start <= spike_end <= steps:
        raise ValueError(f"need 0 <= spike_start <= spike_end <= steps, got {spike_start}, {spike_end}, {steps}")
    split = split or digits_split()
    work = len(seeds) * len(factors) * len(methods) * batch * split.train_x.shape[1]  # numbers in a step's batch
    device = resolve_device(device, work_items=work)
    x, y = split.train_x.to(device), split.train_y.to(device)
    runs = [(s, f, m) for s in seeds for f in factors for m in methods]
    factor = torch.tensor([f for _, f, _ in runs], dtype=x.dtype, device=device)
    check_positive("factors", factor)
    clip = torch.tensor([m == "clip" for *_, m in runs], device=device)
    rho_on = torch.tensor([m == "rho" for *_, m in runs], device=device)
    params = init_mlp([s for s, _, _ in runs], x.dtype, device)
    moments = [(torch.zeros_like(p), torch.zeros_like(p)) for p in params]
    batches = torch.randint(0, len(y), (steps, batch), generator=torch.Generator().manual_seed(0)).to(device)
    loss, r = x.new_empty(steps // every + 1, len(runs)), x.new_empty(steps, len(runs))
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    for t in range(steps):
        if t % every == 0:
            with torch.no_grad():
                loss[t // every] = cross_entropy(forward(params, x)[0], y)
        xb, yb = x[batches[t]], y[batches[t]]
        leaves = [p.clone().requires_grad_(True) for p in params]
        grads = torch.autograd.grad(cross_entropy(forward(leaves, xb)[0], yb).sum(), leaves)
        scale = torch.where(clip, torch.clamp(1.0 / _norm(list(grads)), max=1.0), torch.ones_like(factor))
        grads = [g * _per_run(scale, g) for g in grads]  # clip: g <- g min(1, 1/||g||)
        eta = eta0 * (factor if spike_start <= t < spike_end else torch.ones_like(factor))  # the spike, per run
        update = []
        for g, (m, v) in zip(grads, moments):
            m.mul_(beta1).add_(g, alpha=1 - beta1)
            v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
            p = (m / (1 - beta1 ** (t + 1))) / ((v / (1 - beta2 ** (t + 1))).sqrt() + eps)
            update.append(_per_run(eta, p) * p)  # p = eta_t m_hat / (sqrt(v_hat) + eps)
        length = _norm(update)
        unit = [u / _per_run(length, u) for u in update]
        rho = ghosts.spread_radius(logit_slopes(params, unit, xb))  # rho_a = pi / max_x Delta_a(x; v)
        r[t] = length / rho  # r = ||p|| / rho_a
        keep = torch.where(rho_on, torch.clamp(rho / length, max=1.0), torch.ones_like(length))
        params = [w - _per_run(keep, u) * u for w, u in zip(params, update)]  # theta - min(1, rho_a/||p||) p
    with torch.no_grad():
        loss[-1] = cross_entropy(forward(params, x)[0], y)
        predicted = forward(params, split.test_x.to(device))[0].argmax(-1)
        accuracy = (predicted == split.test_y.to(device)).to(x.dtype).mean(-1)
    seed_ids = torch.tensor([s for s, _, _ in runs], device=device)
    return SpikeRuns([m for *_, m in runs], factor, seed_ids, loss, every, r, accuracy, spike_start, spike_end)
