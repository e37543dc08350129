"""Separable binary data sets for large-step logistic regression, with margin mu and radius R.

Every data set is a :class:`Dataset` of features ``a_i`` (rows of ``features``, shape [n, d]) and
labels ``y_i`` in {-1, +1} (shape [n]); no bias feature is added (Tyurin 2025, task (1)).
Margin (Tyurin 2025, Assumption 1.1):  mu = max_{||theta|| = 1} min_i y_i a_i^T theta,
radius R = max_i ||a_i||.  mu is the norm of the min-norm point of conv{y_i a_i} (= the hard-margin SVM without
bias, by minimax duality), computed after an LP feasibility check (Z theta >= 1) that decides separability.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from steplab.validation import check_int, check_range

Tensor = torch.Tensor
TOY_NAMES = ("thm41", "thm51", "wu4")


def check_labels(labels: Tensor) -> Tensor:
    """Raise ``ValueError`` unless every label is -1 or +1."""
    bad = ~((labels == 1) | (labels == -1))
    if bool(bad.any()):
        values = sorted({float(v) for v in labels[bad].flatten().tolist()})[:5]
        raise ValueError(f"labels must be in {{-1, +1}}, got values {values}")
    return labels


@dataclass
class Dataset:
    """Features ``[n, d]`` and labels ``[n]`` in {-1, +1} (float64)."""

    name: str
    features: Tensor
    labels: Tensor

    def __post_init__(self):
        self.features = torch.as_tensor(self.features, dtype=torch.float64)
        self.labels = torch.as_tensor(self.labels, dtype=torch.float64)
        if self.features.ndim != 2 or self.labels.shape != (self.features.shape[0],):
            raise ValueError(f"features must be [n, d] and labels [n], got {tuple(self.features.shape)} "
                             f"and {tuple(self.labels.shape)}")
        check_labels(self.labels)

    @property
    def n(self) -> int:
        return self.features.shape[0]

    @property
    def d(self) -> int:
        return self.features.shape[1]

    @property
    def signed(self) -> Tensor:
        """z_i = y_i a_i, shape [n, d]: the margins of theta are Z theta."""
        return self.labels[:, None] * self.features

    @property
    def radius(self) -> float:
        """R = max_i ||a_i||."""
        return float(torch.linalg.vector_norm(self.features, dim=1).max())

    def margin(self) -> MaxMargin:
        """The max-margin direction and mu (see :func:`max_margin`)."""
        return max_margin(self.features, self.labels)


@dataclass
class MaxMargin:
    separable: bool
    mu: float          # the margin (nan when not separable)
    direction: Tensor  # unit max-margin direction [d] (zeros when not separable)


def is_separable(features: Tensor, labels: Tensor) -> bool:
    """LP feasibility of y_i a_i^T theta >= 1 for all i (scipy.optimize.linprog, HiGHS)."""
    from scipy.optimize import linprog

    z = (torch.as_tensor(labels)[:, None] * torch.as_tensor(features)).double().numpy()
    n, d = z.shape
    result = linprog(np.zeros(d), A_ub=-z, b_ub=-np.ones(n), bounds=[(None, None)] * d, method="highs")
    return result.status == 0


def max_margin(features: Tensor, labels: Tensor) -> MaxMargin:
    """Max-margin direction (hard-margin SVM, no bias) as the min-norm point p of conv{y_i a_i}.

    By minimax duality mu = max_{||theta||=1} min_i z_i^T theta = min_{lambda in simplex} ||Z^T lambda|| for
    separable data, attained at theta = p/||p||. Solved exactly by non-negative least squares (Lawson-Hanson,
    scipy.optimize.nnls) with the simplex constraint as a heavily weighted extra row; mu is reported as the
    margin min_i z_i^T theta the returned direction attains (it agrees with ||p|| to ~1e-12).
    """
    from scipy.optimize import nnls

    check_labels(torch.as_tensor(labels))
    if not is_separable(features, labels):
        return MaxMargin(False, float("nan"), torch.zeros(features.shape[1], dtype=torch.float64))
    z = (torch.as_tensor(labels)[:, None] * torch.as_tensor(features)).double().numpy()
    n, d = z.shape
    weight = 1e3 * np.abs(z).max()
    matrix = np.vstack([z.T, np.full((1, n), weight)])
    target = np.zeros(d + 1)
    target[-1] = weight
    simplex, _ = nnls(matrix, target, maxiter=50 * n)
    point = z.T @ (simplex / simplex.sum())
    direction = point / np.linalg.norm(point)
    return MaxMargin(True, float((z @ direction).min()), torch.from_numpy(direction))


# ---------------------------------------------------------------------------------------------
# the data sets
# ---------------------------------------------------------------------------------------------

def thm41_toy() -> Dataset:
    """Tyurin (2025) Thm 4.1: a = (1, -1), y = +1; a = (-1, -4), y = -1 (loss is unreliable)."""
    return Dataset("thm41", [[1.0, -1.0], [-1.0, -4.0]], [1.0, -1.0])


def thm51_worst_case(n: int = 1000) -> Dataset:
    """Tyurin (2025) Thm 5.1: (0.5, -1) with y = +1 and n-1 copies of (-0.5, -1) with y = -1."""
    check_int("n", n, 2)
    features = torch.tensor([[-0.5, -1.0]], dtype=torch.float64).repeat(n, 1)
    features[0, 0] = 0.5
    labels = -torch.ones(n, dtype=torch.float64)
    labels[0] = 1.0
    return Dataset(f"thm51_n{n}", features, labels)


def wu_toy() -> Dataset:
    """Wu, Bartlett, Telgarsky, Yu (2024) 4-point toy (as in Bao et al. 2025, Fig. 1); max-margin e_2."""
    features = [[1.0, 0.2], [-2.0, 0.2], [-1.0, -0.2], [2.0, -0.2]]
    return Dataset("wu4", features, [1.0, 1.0, -1.0, -1.0])


def toy(name: str, n: int = 1000) -> Dataset:
    """A 2-D toy by name: ``'thm41'``, ``'thm51'`` (with ``n`` points) or ``'wu4'``."""
    if name == "thm41":
        return thm41_toy()
    if name == "thm51":
        return thm51_worst_case(n)
    if name == "wu4":
        return wu_toy()
    raise ValueError(f"name must be one of {TOY_NAMES}, got {name!r}")


@lru_cache(maxsize=1)
def _digits():
    from sklearn.datasets import load_digits

    digits = load_digits()
    return digits.data / 16.0, digits.target


def digits_pair(positive: int = 3, negative: int = 8) -> Dataset:
    """sklearn's bundled Digits, two classes, pixels / 16, no bias; y = +1 for ``positive``."""
    for name, value in (("positive", positive), ("negative", negative)):
        check_int(name, value, 0)
        check_range(name, value, 0, 9)
    if positive == negative:
        raise ValueError("positive and negative must be different digits")
    x, target = _digits()
    keep = (target == positive) | (target == negative)
    labels = np.where(target[keep] == positive, 1.0, -1.0)
    return Dataset(f"digits_{positive}v{negative}", torch.from_numpy(x[keep]), torch.from_numpy(labels))


def imbalanced_digits(positive: int = 3, negative: int = 8, fraction: float = 0.1, seed: int = 0) -> Dataset:
    """All ``positive`` digits plus ``int(fraction * count)`` of the ``negative`` ones, sampled without
    replacement by ``numpy.random.default_rng(seed).choice`` (3v8, 10%: 183 + 17 = 200 points)."""
    check_range("fraction", fraction, 0.0, 1.0, low_inclusive=False)
    x, target = _digits()
    pos = np.flatnonzero(target == positive)
    neg = np.flatnonzero(target == negative)
    size = max(1, int(fraction * len(neg)))
    chosen = np.random.default_rng(seed).choice(neg, size, replace=False)
    index = np.concatenate([pos, chosen])
    labels = np.concatenate([np.ones(len(pos)), -np.ones(len(chosen))])
    return Dataset(f"digits_{positive}v{negative}_imbalanced", torch.from_numpy(x[index]), torch.from_numpy(labels))


def gaussian_separable(n: int = 200, d: int = 10, seed: int = 0) -> Dataset:
    """Linearly separable Gaussian data: w* ~ N(0, I_d) first, then A ~ N(0, I), y = sign(A w*)."""
    check_int("n", n, 1)
    check_int("d", d, 1)
    rng = np.random.default_rng(seed)
    w_star = rng.standard_normal(d)
    features = rng.standard_normal((n, d))
    labels = np.sign(features @ w_star)
    labels[labels == 0] = 1.0
    return Dataset(f"gaussian_n{n}_d{d}", torch.from_numpy(features), torch.from_numpy(labels))


DATASETS = {
    "thm41": thm41_toy,
    "thm51": thm51_worst_case,
    "wu4": wu_toy,
    "digits_3v8": lambda: digits_pair(3, 8),
    "digits_4v9": lambda: digits_pair(4, 9),
    "digits_3v8_imbalanced": imbalanced_digits,
    "gaussian": gaussian_separable,
}


def load(name: str) -> Dataset:
    """Any data set of this module by name (keys of ``DATASETS``)."""
    if name not in DATASETS:
        raise ValueError(f"name must be one of {tuple(DATASETS)}, got {name!r}")
    return DATASETS[name]()
