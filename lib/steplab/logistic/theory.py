"""Closed forms of large-step logistic regression (Tyurin 2025): the Thm 4.1 loss and the iteration bounds.

With margin mu and radius R of a separable data set of n points (Tyurin 2025, Assumption 1.1; see
:mod:`steplab.logistic.data`), the number of iterations to separate is at most

* n R^2 / mu^2 for the Batch Perceptron, the gamma -> inf limit of LR+GD (Thm 3.3; Novikoff, Duda-Hart-Stork),
* R^2 / mu^2 for the Perceptron (Thm 5.2) and for the Normalized Batch Perceptron (Thm 5.3),
* R^2 / mu^2 + 2 log(2n - 1) / (gamma mu^2) for Normalized LR+GD with step size gamma (Thm 6.1).

The convergence-radius formulas of Sao (2026) are in :mod:`steplab.logistic.ghosts`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

Tensor = torch.Tensor
LOSS_AT_ZERO = math.log(2.0)  # f(0) = (1/n) sum_i log(1 + e^0) = ln 2


def thm41_first_loss(gamma) -> Tensor:
    """f(theta_1) = 1/2 [log(1 + e^{gamma/4}) + log(1 + e^{-7 gamma/2})] on the Thm 4.1 toy (Tyurin 2025, Thm 4.1)."""
    g = torch.as_tensor(gamma, dtype=torch.float64)
    return 0.5 * (F.softplus(g / 4) + F.softplus(-3.5 * g))  # 1/2 [softplus(gamma/4) + softplus(-7 gamma/2)]


def batch_perceptron_bound(n: int, radius: float, mu: float) -> float:
    """n R^2 / mu^2 iterations (Tyurin 2025, Thm 3.3)."""
    return n * radius**2 / mu**2


def perceptron_bound(radius: float, mu: float) -> float:
    """R^2 / mu^2 updates of the Perceptron (Thm 5.2) or iterations of the Normalized Batch Perceptron (Thm 5.3)."""
    return radius**2 / mu**2


def normalized_lr_gd_bound(n: int, radius: float, mu: float, gamma: float) -> float:
    """R^2 / mu^2 + 2 log(2n - 1) / (gamma mu^2) iterations of Normalized LR+GD (Tyurin 2025, Thm 6.1)."""
    return radius**2 / mu**2 + 2 * math.log(2 * n - 1) / (gamma * mu**2)
