"""Margins, loss, accuracy, gradient and separation time of linear classifiers, batched over runs.

With z_i = y_i a_i (rows of ``signed``, shape [n, d]) and weights theta of shape [R, d]:
margins m = theta Z^T ([R, n]); mean logistic loss f = (1/n) sum_i softplus(-m_i) (stable for any m);
gradient (Tyurin 2025, eq. 3)  grad f = -(1/n) sum_i sigmoid(-m_i) z_i;  accuracy = mean 1[m_i > 0]
(strict, so theta = 0 has accuracy 0).  "Separated at t" = the smallest t >= 1 with every m_i > 0.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

Tensor = torch.Tensor


def margins(weights: Tensor, signed: Tensor) -> Tensor:
    """m_i = y_i a_i^T theta for weights [..., d] and signed data [n, d] -> [..., n]."""
    return weights @ signed.T


def logistic_loss(margin: Tensor) -> Tensor:
    """Mean logistic loss (1/n) sum_i log(1 + exp(-m_i)) = mean softplus(-m), over the last dim."""
    return F.softplus(-margin).mean(-1)


def accuracy(margin: Tensor) -> Tensor:
    """Fraction of strictly positive margins (0 at theta = 0)."""
    return (margin > 0).to(margin.dtype).mean(-1)


def gradient(margin: Tensor, signed: Tensor) -> Tensor:
    """grad f(theta) = -(1/n) sum_i sigmoid(-m_i) z_i  (Tyurin 2025, eq. 3); [..., n] -> [..., d]."""
    return -(torch.sigmoid(-margin) @ signed) / signed.shape[0]


def separation_time(accuracy_history: Tensor) -> Tensor:
    """First t >= 1 with accuracy 1 (every margin > 0) per run, or -1; ``accuracy_history`` is [T+1, R]."""
    separated = accuracy_history >= 1.0
    separated[0] = False
    first = torch.argmax(separated.to(torch.int64), dim=0)
    return torch.where(separated.any(0), first, torch.full_like(first, -1))


def stays_separated_from(accuracy_history: Tensor) -> Tensor:
    """First t >= 1 from which every recorded t' >= t has accuracy 1, per run, or -1 when the last row is not
    separated. Unlike :func:`separation_time` it ignores separations that are lost again ([T+1, R] -> [R])."""
    bad = accuracy_history < 1.0
    bad[0] = True
    rows = torch.arange(bad.shape[0], device=bad.device)[:, None].expand_as(bad)
    last_bad = torch.where(bad, rows, torch.zeros_like(rows)).max(0).values
    return torch.where(last_bad < bad.shape[0] - 1, last_bad + 1, torch.full_like(last_bad, -1))


def normalized_margin(weights: Tensor, signed: Tensor) -> Tensor:
    """min_i y_i a_i^T theta / ||theta|| (the quantity whose max over theta is mu): weights [..., d] -> [...]."""
    return margins(weights, signed).amin(-1) / torch.linalg.vector_norm(weights, dim=-1)


def sign_patterns(weights: Tensor, signed: Tensor) -> Tensor:
    """1[m_i > 0] for every recorded iterate: weights [T+1, R, d] -> bool [T+1, R, n]."""
    return margins(weights, signed) > 0


def first_mismatch(weights: Tensor, reference: Tensor, signed: Tensor) -> Tensor:
    """First t >= 1 where the sign pattern of ``weights`` [T+1, R, d] differs from ``reference`` [T+1, 1 or R, d]
    (per run), or -1 when they agree for every t."""
    differ = (sign_patterns(weights, signed) != sign_patterns(reference, signed)).any(-1)
    differ[0] = False
    first = torch.argmax(differ.to(torch.int64), dim=0)
    return torch.where(differ.any(0), first, torch.full_like(first, -1))


def count_increases(loss: Tensor, until: Tensor | None = None) -> Tensor:
    """Number of t with f(theta_{t+1}) > f(theta_t), per run (loss [T+1, R]); only t+1 <= ``until`` if given."""
    up = loss[1:] > loss[:-1]
    if until is not None:
        t_next = torch.arange(1, loss.shape[0], device=loss.device)[:, None]
        up = up & (t_next <= until[None, :])
    return up.sum(0)


def last_increase(loss: Tensor) -> Tensor:
    """The last t+1 with f(theta_{t+1}) > f(theta_t), per run (0 when the loss never increases)."""
    up = loss[1:] > loss[:-1]
    t_next = torch.arange(1, loss.shape[0], device=loss.device)[:, None].expand_as(up)
    return torch.where(up, t_next, torch.zeros_like(t_next)).max(0).values


def angle_degrees(weights: Tensor, direction: Tensor) -> Tensor:
    """Angle in degrees between each weight vector [..., d] and a direction [d]."""
    cos = (weights @ direction) / (torch.linalg.vector_norm(weights, dim=-1) * torch.linalg.vector_norm(direction))
    return torch.rad2deg(torch.arccos(cos.clamp(-1.0, 1.0)))
