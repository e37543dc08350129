"""The experiments of notebook 02 as library functions: the claims, the tests and the notebook call these.

Tyurin (2025) Thms 3.2, 4.1, Table 1 and Figs. 1-4 (analogues on sklearn digits), the two phases of Wu et al.
(2024) on their 4-point toy, and Sao (2026): rho_a-capped GD and the trained softmax regression of the r-sweep
(the sweep itself, Wu's rate, the margins and the spike test are in :mod:`steplab.logistic.studies`).
Each function returns a dataclass (of :class:`~steplab.logistic.algorithms.History` objects and tensors); the
expensive ones are cached per process (``functools.lru_cache``), so a notebook, its claims table and the tests
share one computation. Treat the returned tensors as read-only. Each takes ``device=None``
(:func:`steplab.device.resolve_device`): the runs compute there and each history is moved to the CPU with
``to_host`` right after its call (the data sets are built on the CPU and moved by ``run_gd``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import torch

from steplab.device import to_host
from steplab.logistic import ghosts, metrics, softmax, theory
from steplab.logistic.algorithms import History, run_on
from steplab.logistic.data import (
    digits_pair,
    gaussian_separable,
    imbalanced_digits,
    load,
    thm41_toy,
    thm51_worst_case,
    wu_toy,
)

Tensor = torch.Tensor
DIGITS_GAMMAS = (1e-3, 1e-2, 0.1, 1.0, 10.0, 100.0, 1e4)
TABLE1_GAMMAS = (100.0, 10.0, 1.0, 0.1)
WU_ETAS = (0.1, 1.0, 4.0, 10.0, 30.0, 100.0)


def _tensor(values) -> Tensor:
    return torch.tensor(values, dtype=torch.float64)


# --- Tyurin Thm 4.1: one huge step ---------------------------------------------------------------------------
def thm41(gammas=(100.0,), steps: int = 2, device=None) -> History:
    """LR+GD on the Thm 4.1 toy: the loss explodes at t = 1 while t = 2 separates."""
    return to_host(run_on(thm41_toy(), _tensor(gammas), steps, device=device))


# --- Tyurin Thm 3.2: the reduction theta_t / gamma -> hat theta_t ------------------------------------------------
@dataclass
class Reduction:
    """LR+GD at every gamma against the Batch Perceptron path hat theta_t (Tyurin 2025, Thm 3.2)."""

    gammas: Tensor              # [R]
    perceptron: History         # Batch Perceptron at scale 1 (hat theta_t)
    lr_gd: History              # LR+GD for every gamma
    distance: Tensor            # [T+1, R] ||theta_t / gamma - hat theta_t||
    max_distance: Tensor        # [R] max over t of distance
    first_mismatch: Tensor      # [R] first t where sign patterns differ, or -1
    smallest_abs_margin: float  # min over t in 1..t_sep and i of |y_i a_i^T hat theta_t|


@lru_cache(maxsize=8)
def reduction(dataset_name: str = "digits_3v8", gammas: tuple = (1e2, 1e4, 1e6, 1e8), steps: int | None = None,
              device=None):
    """LR+GD at each gamma vs Batch Perceptron, for t up to the perceptron's separation time (or ``steps``)."""
    dataset = gaussian_separable() if dataset_name == "gaussian" else digits_pair(*_pair(dataset_name))
    bp = to_host(run_on(dataset, [1.0], steps or 2000, "batch_perceptron", stop_at_separation=True, device=device))
    t_sep = int(bp.require_separation()[0])
    steps = steps or t_sep
    bp = to_host(run_on(dataset, [1.0], steps, "batch_perceptron", device=device))
    g = _tensor(gammas)
    lr = to_host(run_on(dataset, g, steps, device=device))
    distance = torch.linalg.vector_norm(lr.weights / g[None, :, None] - bp.weights, dim=-1)
    path = metrics.margins(bp.weights[1:t_sep + 1, 0], dataset.signed).abs()
    return Reduction(g, bp, lr, distance, distance.max(0).values,
                     metrics.first_mismatch(lr.weights, bp.weights, dataset.signed), float(path.min()))


def _pair(name: str) -> tuple[int, int]:
    digits = name.removeprefix("digits_").split("v")
    if len(digits) != 2:
        raise ValueError(f"dataset_name must be 'gaussian' or 'digits_<a>v<b>', got {name!r}")
    return int(digits[0]), int(digits[1])


# --- Tyurin Figs. 1-4 analogue: the loss is unreliable on digits --------------------------------------------------
@dataclass
class DigitsSweep:
    """LR+GD for every gamma and the Batch Perceptron (gamma = 1) on one digits pair."""

    lr_gd: History
    perceptron: History

    def separation_times(self) -> dict[float, int]:
        """gamma -> iterations LR+GD needs to separate (-1: not within the run)."""
        return dict(zip(self.lr_gd.step_sizes.tolist(), self.lr_gd.separated_at.tolist()))

    def loss_at(self, t: int) -> dict[float, float]:
        """gamma -> f(theta_t) of LR+GD."""
        return dict(zip(self.lr_gd.step_sizes.tolist(), self.lr_gd.loss[t].tolist()))


@lru_cache(maxsize=4)
def digits_sweep(dataset_name: str = "digits_3v8", gammas: tuple = DIGITS_GAMMAS, steps: int = 3000,
                 device=None) -> DigitsSweep:
    """LR+GD for every gamma (one batched run) and Batch Perceptron (gamma = 1) on a digits pair."""
    dataset = digits_pair(*_pair(dataset_name))
    return DigitsSweep(to_host(run_on(dataset, _tensor(gammas), steps, device=device)),
                       to_host(run_on(dataset, [1.0], steps, "batch_perceptron", device=device)))


# --- Tyurin Table 1 ------------------------------------------------------------------------------------------------
@dataclass
class SeparationTable:
    """Iterations to separate per gamma (Tyurin 2025, Table 1 layout: the first t with accuracy 1), and the t from
    which each run stays separated up to ``max_steps`` (Normalized LR+GD often separates and loses it again)."""

    gammas: Tensor
    lr_gd: Tensor          # [R] first separation (-1: not within max_steps)
    normalized: Tensor     # [R]
    perceptron: int        # Batch Perceptron
    normalized_perceptron: int
    lr_gd_stays: Tensor    # [R] stays separated from (-1: not separated at max_steps)
    normalized_stays: Tensor


def separation_table(dataset, gammas=TABLE1_GAMMAS, max_steps: int = 6000, device=None) -> SeparationTable:
    """First separation and stays-separated times for LR+GD and Normalized LR+GD at each gamma, and both Batch
    Perceptrons (which never lose a separation: they stop moving)."""
    g = _tensor(gammas)

    def times(method, step_sizes):
        return to_host(run_on(dataset, step_sizes, max_steps, method, stop_at_separation=True,
                              record_weights=False, device=device)).separated_at

    def stays(method):
        return to_host(run_on(dataset, g, max_steps, method, record_weights=False, device=device)).stays_separated_from

    return SeparationTable(g, times("lr_gd", g), times("normalized_lr_gd", g), int(times("batch_perceptron", [1.0])[0]),
                           int(times("normalized_batch_perceptron", [1.0])[0]), stays("lr_gd"),
                           stays("normalized_lr_gd"))


@lru_cache(maxsize=2)
def table1_worst_case(n: int = 1000, device=None) -> SeparationTable:
    """Tyurin (2025) Table 1, first row: the Thm 5.1 data set with n points."""
    return separation_table(thm51_worst_case(n), TABLE1_GAMMAS, max_steps=1000, device=device)


@lru_cache(maxsize=2)
def table1_imbalanced(seed: int = 0, device=None) -> SeparationTable:
    """Table 1 analogue on imbalanced digits (all 3s + 10% of the 8s, sampled without replacement)."""
    return separation_table(imbalanced_digits(seed=seed), TABLE1_GAMMAS, max_steps=6000, device=device)


# --- Wu et al. (2024): two phases -----------------------------------------------------------------------------------
@dataclass
class WuPhases:
    """Constant-step GD on the Wu et al. 4-point toy, one run per eta."""

    etas: Tensor
    history: History        # weights recorded every step
    increases: Tensor       # [R] number of loss increases
    last_increase: Tensor   # [R] last t with f(w_t) > f(w_{t-1})
    eta_final_loss: Tensor  # [R] eta * L(w_T)
    angle: Tensor           # [R] angle(w_T, max-margin direction) in degrees
    max_margin_direction: Tensor


@lru_cache(maxsize=2)
def wu_phases(etas: tuple = WU_ETAS, steps: int = 10_000, device=None) -> WuPhases:
    """Constant-step GD on the Wu et al. 4-point toy for every eta (one batched run)."""
    dataset = wu_toy()
    history = to_host(run_on(dataset, _tensor(etas), steps, device=device))
    direction = dataset.margin().direction
    return WuPhases(history.step_sizes, history, metrics.count_increases(history.loss),
                    metrics.last_increase(history.loss), history.step_sizes * history.loss[-1],
                    metrics.angle_degrees(history.weights[-1], direction), direction)


# --- Sao (2026) Prop. 5.2: rho_a-capped GD ---------------------------------------------------------------------------
@dataclass
class Capped:
    """Plain LR+GD against rho_a-capped GD on digits 3 vs 8."""

    plain: History
    capped: History
    plain_r_max: float
    plain_r_median: float  # over the steps before separation
    plain_loss_max: float
    capped_loss_max: float
    capped_increases: int  # loss increases up to (first) separation
    capped_at_radius: int  # steps before it stays separated whose r_t is exactly r_max (the cap was active)
    plain_exact_r_max: float  # max_t tau_t / rho*_t, rho*_t = min_i sqrt(m_i^2 + pi^2)/|a_i^T v| (exact radius)


@lru_cache(maxsize=2)
def capped_vs_plain(gamma_plain: float = 100.0, gamma_capped: float = 1e4, steps: int = 200, device=None) -> Capped:
    """Plain LR+GD at gamma_plain vs rho_a-capped GD (tau = min(gamma ||grad||, rho_a)) on digits 3 vs 8."""
    dataset = digits_pair(3, 8)
    plain = to_host(run_on(dataset, [gamma_plain], steps, device=device))
    capped = to_host(run_on(dataset, [gamma_capped], steps, "capped_lr_gd", device=device))
    t_plain = int(plain.require_separation()[0])
    t_capped = int(capped.require_separation()[0])
    r = plain.normalized_step[:t_plain, 0]
    increases = int(metrics.count_increases(capped.loss, until=torch.tensor([t_capped]))[0])
    stays = int(capped.stays_separated_from[0])
    at_radius = int((capped.normalized_step[:stays, 0] - 1.0).abs().le(1e-9).sum())
    steps_taken = plain.weights[1:t_plain + 1, 0] - plain.weights[:t_plain, 0]
    exact = ghosts.logistic_sample_radii(dataset.features, dataset.labels, plain.weights[:t_plain, 0], steps_taken)
    tau = torch.linalg.vector_norm(steps_taken, dim=-1)
    exact_r = tau / exact.amin(-1)  # r* = tau / min_i sqrt(m_i^2 + pi^2) / |a_i^T v|  (Sao 2026, Thm 4.3 per sample)
    return Capped(plain, capped, float(r.max()), float(r.median()), float(plain.loss[:, 0].max()),
                  float(capped.loss[:, 0].max()), increases, at_radius, float(exact_r.max()))


# --- Sao (2026) Figs. 1, 7, 8 analogue: the model of the one-step r-sweep -----------------------------------------
@dataclass
class TrainedSoftmax:
    """10-class softmax regression on digits, trained by full-batch Adam."""

    split: softmax.DigitsSplit
    params: Tensor  # [650]
    train_loss: float
    test_accuracy: float


@lru_cache(maxsize=1)
def trained_softmax(steps: int = 2000, lr: float = 0.05, device=None) -> TrainedSoftmax:
    """Softmax regression trained by Adam (``softmax.train``) with its train loss and test accuracy."""
    split = softmax.digits_split()
    params = to_host(softmax.train(split, steps, lr, device=device))
    return TrainedSoftmax(split, params, float(softmax.cross_entropy(params, split.train_x, split.train_y)),
                          float(softmax.accuracy(params, split.test_x, split.test_y)))


# --- Tyurin Thms 3.3, 5.2, 5.3: perceptron counts against their bounds --------------------------------------------
@dataclass
class PerceptronTimes:
    """Separation times of the three perceptrons (gamma = 1) and the bounds of :mod:`steplab.logistic.theory`."""

    batch_perceptron: int
    normalized_batch_perceptron: int
    perceptron: int
    bound_batch: float       # n R^2 / mu^2 (Thm 3.3)
    bound_normalized: float  # R^2 / mu^2 (Thms 5.2, 5.3)
    mu: float
    radius: float


@lru_cache(maxsize=4)
def perceptron_times(dataset_name: str = "digits_3v8", max_steps: int = 2000, device=None) -> PerceptronTimes:
    """Separation times of Batch Perceptron, Normalized Batch Perceptron and the classic Perceptron (first
    misclassified point each step), with the bounds n R^2/mu^2 and R^2/mu^2 (Tyurin 2025, Thms 3.3, 5.2, 5.3)."""
    dataset = load(dataset_name)

    def separation(method: str) -> int:
        history = to_host(run_on(dataset, [1.0], max_steps, method, stop_at_separation=True, record_weights=False,
                                 device=device))
        return int(history.separated_at[0])

    mu, radius = dataset.margin().mu, dataset.radius
    return PerceptronTimes(separation("batch_perceptron"), separation("normalized_batch_perceptron"),
                           separation("perceptron"), theory.batch_perceptron_bound(dataset.n, radius, mu),
                           theory.perceptron_bound(radius, mu), mu, radius)


# --- Tyurin Assumption 1.1: margin and radius of the toys -----------------------------------------------------------
@dataclass
class MarginsAndRadii:
    """mu and R of the Thm 5.1 set (with Batch Perceptron's count and bound) and mu of the Wu et al. toy."""

    worst_case_n: int
    worst_case_mu: float
    worst_case_radius: float
    worst_case_perceptron: int  # Batch Perceptron's separation time
    worst_case_bound: float     # n R^2 / mu^2 (Thm 3.3)
    wu_mu: float
    wu_direction: Tensor        # the unit max-margin direction of the Wu et al. toy


def margins_and_radii(n: int = 1000, device=None) -> MarginsAndRadii:
    """Margin and radius (Tyurin 2025, Assumption 1.1) of the Thm 5.1 set and of the Wu et al. toy."""
    worst = thm51_worst_case(n)
    mu = worst.margin().mu
    wu = wu_toy().margin()
    return MarginsAndRadii(n, mu, worst.radius, table1_worst_case(n, device).perceptron,
                           theory.batch_perceptron_bound(worst.n, worst.radius, mu), wu.mu, wu.direction)
