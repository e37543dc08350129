"""10-class softmax regression on sklearn Digits and the one-step r-sweep of Sao (2026, Figs. 1, 7, 8).

Model: logits z(x) = x W + b, W [64, 10], b [10], packed as one parameter vector of length 650 (W row-major,
then b); the loss is the mean cross-entropy.  One step of length tau = r rho_a along a unit direction v with
rho_a = pi / max_x (max_k a_k - min_k a_k), a = JVP of the logits along v (see :mod:`steplab.logistic.ghosts`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from steplab.device import resolve_device
from steplab.logistic import ghosts
from steplab.validation import check_int, check_positive

Tensor = torch.Tensor
FEATURES, CLASSES = 64, 10
PARAMS = FEATURES * CLASSES + CLASSES


@dataclass
class DigitsSplit:
    train_x: Tensor
    train_y: Tensor
    test_x: Tensor
    test_y: Tensor


def digits_split(train_size: int = 1257, seed: int = 0) -> DigitsSplit:
    """Digits / 16 split by ``numpy.random.default_rng(seed).permutation`` (1257 train / 540 test)."""
    from sklearn.datasets import load_digits

    check_int("train_size", train_size, 1)
    digits = load_digits()
    order = np.random.default_rng(seed).permutation(len(digits.target))
    x = torch.from_numpy(digits.data[order] / 16.0)
    y = torch.from_numpy(digits.target[order]).long()
    return DigitsSplit(x[:train_size], y[:train_size], x[train_size:], y[train_size:])


def logits(params: Tensor, x: Tensor) -> Tensor:
    """z = x W + b for params [..., 650] and x [N, 64] -> [..., N, 10]."""
    w = params[..., : FEATURES * CLASSES].reshape(*params.shape[:-1], FEATURES, CLASSES)
    b = params[..., FEATURES * CLASSES:]
    return x @ w + b[..., None, :]


def cross_entropy(params: Tensor, x: Tensor, y: Tensor) -> Tensor:
    """Mean cross-entropy per parameter vector: [..., 650] -> [...]."""
    z = logits(params, x)
    return (torch.logsumexp(z, -1) - z.gather(-1, y.expand(*z.shape[:-1])[..., None])[..., 0]).mean(-1)


def accuracy(params: Tensor, x: Tensor, y: Tensor) -> Tensor:
    return (logits(params, x).argmax(-1) == y).to(params.dtype).mean(-1)


def train(split: DigitsSplit, steps: int = 2000, lr: float = 0.05, betas=(0.9, 0.999), eps: float = 1e-8,
          device=None) -> Tensor:
    """Full-batch Adam from zero parameters (Kingma & Ba 2015, Alg. 1, as torch.optim.Adam) -> [650] on ``device``
    (None: :func:`steplab.device.resolve_device`; the split is moved there).

    m <- b1 m + (1-b1) g,  v <- b2 v + (1-b2) g^2,  theta <- theta - lr (m/(1-b1^t)) / (sqrt(v/(1-b2^t)) + eps),
    with the closed-form gradient  grad_W = X^T (softmax(z) - onehot(y)) / N,  grad_b = mean(softmax(z) - onehot(y)).
    """
    check_int("steps", steps, 1)
    check_positive("lr", lr)
    x, n = split.train_x, split.train_x.shape[0]
    device = resolve_device(device, work_items=n * CLASSES)
    x = x.to(device)
    onehot = F.one_hot(split.train_y.to(device), CLASSES).to(x.dtype)
    w = x.new_zeros(FEATURES, CLASSES)
    b = x.new_zeros(CLASSES)
    state = [(torch.zeros_like(w), torch.zeros_like(w)), (torch.zeros_like(b), torch.zeros_like(b))]
    beta1, beta2 = betas
    for t in range(1, steps + 1):
        residual = torch.softmax(x @ w + b, -1) - onehot
        for param, grad, (m, v) in ((w, x.T @ residual / n, state[0]), (b, residual.mean(0), state[1])):
            m.mul_(beta1).add_(grad, alpha=1 - beta1)
            v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            denom = (v / (1 - beta2**t)).sqrt_().add_(eps)
            param.addcdiv_(m, denom, value=-lr / (1 - beta1**t))
    return torch.cat([w.flatten(), b])


def gradient(params: Tensor, x: Tensor, y: Tensor) -> Tensor:
    """grad of the mean cross-entropy at params [650]."""
    p = params.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(cross_entropy(p, x, y), p)
    return grad


def radius(params: Tensor, directions: Tensor, x: Tensor) -> Tensor:
    """rho_a for each unit direction [D, 650] over the batch x, from one batched JVP of the logits."""
    base = params.expand_as(directions).clone()
    slopes = ghosts.logit_slopes(lambda p: logits(p, x), base, directions)
    return ghosts.spread_radius(slopes)


@dataclass
class RSweep:
    r_values: Tensor      # [K]
    radius: Tensor        # [D] rho_a per direction
    loss_ratio: Tensor    # [D, K] L(theta + r rho_a v) / L(theta) on the training set
    accuracy_kept: Tensor  # [D, K] test accuracy after the step / before


def r_sweep(params: Tensor, split: DigitsSplit, directions: Tensor, r_values) -> RSweep:
    """One step theta + r rho_a(v) v for every unit direction v (rows of ``directions``) and every r, batched."""
    r = torch.as_tensor(r_values, dtype=params.dtype, device=params.device)
    check_positive("r_values", r)
    unit = directions / torch.linalg.vector_norm(directions, dim=-1, keepdim=True)
    rho = radius(params, unit, split.train_x)
    moved = params + (r[None, :, None] * rho[:, None, None]) * unit[:, None, :]  # [D, K, P]
    base_loss = cross_entropy(params, split.train_x, split.train_y)
    base_acc = accuracy(params, split.test_x, split.test_y)
    ratio = cross_entropy(moved, split.train_x, split.train_y) / base_loss
    kept = accuracy(moved, split.test_x, split.test_y) / base_acc
    return RSweep(r, rho, ratio, kept)


def sweep_directions(params: Tensor, split: DigitsSplit, random_directions: int = 3, seed: int = 0) -> Tensor:
    """-grad f (row 0) and ``random_directions`` N(0, I) directions (torch generator ``seed``), unit rows."""
    check_int("random_directions", random_directions, 0)
    generator = torch.Generator().manual_seed(seed)
    rand = torch.randn(random_directions, PARAMS, generator=generator, dtype=params.dtype).to(params.device)
    rows = torch.cat([-gradient(params, split.train_x, split.train_y)[None], rand])
    return rows / torch.linalg.vector_norm(rows, dim=-1, keepdim=True)
