"""Notebook 02's second set of experiments: Wu et al.'s large-step rate, Tyurin's margins and balanced rows,
the float32 reduction, and Sao's r-onsets, learning-rate spike and temperature sweep. Each returns a dataclass
and is cached per process like :mod:`steplab.logistic.experiments`.

* Wu, Bartlett, Telgarsky, Yu (COLT 2024), abstract: with a budget of T steps and eta = Theta(T), GD on
  separable logistic regression reaches loss O~(1/T^2) after its oscillating phase; a fixed small eta gives ~1/T.
* Tyurin (AAAI 2025), Sec. 8: the gamma -> inf limit (Batch Perceptron) generally does not return the
  max-margin solution; Figs. 6-7 and Table 1 compare Normalized and plain Batch Perceptron / LR+GD.
* Sao (2026): the onset of a one-step loss increase (ratio 1.1 along -grad f, 2.0 for random directions) lies
  in r in [1, 10] (Figs. 1, 7, 8); the rho_a controller survives a x1000 learning-rate spike (Fig. 6, Table 1);
  with temperature T, r_T = tau Delta_a / (pi T) collapses the onsets that raw tau spreads (Fig. 9).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import torch

from steplab.device import move_to, resolve_device, to_host
from steplab.logistic import ghosts, metrics, softmax, spike
from steplab.logistic.algorithms import History, run_on
from steplab.logistic.data import digits_pair
from steplab.logistic.experiments import _pair, digits_sweep, separation_table, trained_softmax

Tensor = torch.Tensor
WU_BUDGETS = (100, 200, 400, 800, 1600, 3200)
ONSET_R = (0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5, 2.0, 3.0, 5.0, 7.0, 10.0, 20.0, 50.0, 100.0)
TEMPERATURES = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)


def fitted_slope(x: Tensor, y: Tensor) -> float:
    """Least-squares slope of log y against log x."""
    lx, ly = torch.log(x), torch.log(y)
    lx = lx - lx.mean()
    return float((lx * (ly - ly.mean())).sum() / (lx * lx).sum())  # slope = cov(log x, log y) / var(log x)


# --- Wu et al. (2024): eta = c T gives O~(1/T^2) ---------------------------------------------------------------
@dataclass
class WuRate:
    budgets: Tensor         # [K] T
    c: float                # eta = c T
    large_step_loss: Tensor  # [K] L(w_T) of the run with eta = c T
    fixed_eta: float
    fixed_loss: Tensor      # [K] L(w_T) of one run with eta = fixed_eta
    large_slope: float      # fitted d log L / d log T
    fixed_slope: float
    fixed_history: History  # the fixed-eta run
    large_history: History  # one run per budget


@lru_cache(maxsize=2)
def wu_rate(dataset_name: str = "digits_4v9", c: float = 0.1, fixed_eta: float = 1.0,
            budgets: tuple = WU_BUDGETS, device=None) -> WuRate:
    """L(w_T) against T for eta = c T (one run per T, batched) and for one fixed eta, from w_0 = 0."""
    dataset = digits_pair(*_pair(dataset_name))
    T = torch.tensor(budgets, dtype=torch.float64)
    large = to_host(run_on(dataset, c * T, max(budgets), record_weights=False, device=device))
    fixed = to_host(run_on(dataset, [fixed_eta], max(budgets), record_weights=False, device=device))
    large_loss = torch.stack([large.loss[b, k] for k, b in enumerate(budgets)])
    fixed_loss = fixed.loss[list(budgets), 0]
    return WuRate(T, c, large_loss, fixed_eta, fixed_loss, fitted_slope(T, large_loss), fitted_slope(T, fixed_loss),
                  fixed, large)


# --- Tyurin Sec. 8: large steps trade margin for speed ---------------------------------------------------------
@dataclass
class Margins:
    gammas: Tensor
    mu: float                 # max-margin (Assumption 1.1)
    normalized: Tensor        # [T+1, R] min_i m_i / ||theta_t|| of LR+GD
    perceptron: float         # the Batch Perceptron's normalized margin once it stops (at separation)
    normalized_perceptron: float
    steps: int


@lru_cache(maxsize=2)
def margins(dataset_name: str = "digits_3v8", device=None) -> Margins:
    """Normalized margin of LR+GD per gamma over the digits sweep, against mu and both Batch Perceptrons."""
    sweep = digits_sweep(dataset_name)
    dataset = digits_pair(*_pair(dataset_name))
    lr = sweep.lr_gd
    nbp = to_host(run_on(dataset, [1.0], 300, "normalized_batch_perceptron", stop_at_separation=True, device=device))
    return Margins(lr.step_sizes, dataset.margin().mu, metrics.normalized_margin(lr.weights, dataset.signed),
                   float(metrics.normalized_margin(sweep.perceptron.weights[-1, 0], dataset.signed)),
                   float(metrics.normalized_margin(nbp.weights[-1, 0], dataset.signed)), lr.steps)


@lru_cache(maxsize=2)
def balanced_table(dataset_name: str, device=None):
    """Table 1's layout on a balanced digits pair (the balanced-FashionMNIST row analogue)."""
    return separation_table(digits_pair(*_pair(dataset_name)), device=device)


# --- float32 vs float64 for the reduction ----------------------------------------------------------------------
@dataclass
class Precision:
    gammas: Tensor
    perceptron: dict          # dtype name -> Batch Perceptron separation time
    lr_gd: dict               # dtype name -> [R] LR+GD separation times
    first_mismatch: dict      # dtype name -> [R] first t where LR+GD's signs differ from the float64 perceptron


@lru_cache(maxsize=1)
def precision(gammas: tuple = (1e4, 1e6, 1e8), steps: int = 120, device=None) -> Precision:
    """Reduction on digits 3 vs 8 run in float32 and float64, compared with the float64 Batch Perceptron."""
    dataset = digits_pair(3, 8)
    g = torch.tensor(gammas, dtype=torch.float64)
    reference = to_host(run_on(dataset, [1.0], steps, "batch_perceptron", device=device))
    out = ({}, {}, {})
    for dtype in (torch.float64, torch.float32):
        name = str(dtype).removeprefix("torch.")
        bp = to_host(run_on(dataset, [1.0], steps, "batch_perceptron", dtype=dtype, device=device))
        lr = to_host(run_on(dataset, g, steps, dtype=dtype, device=device))
        out[0][name] = int(bp.separated_at[0])
        out[1][name] = lr.separated_at
        out[2][name] = metrics.first_mismatch(lr.weights.double(), reference.weights, dataset.signed)
    return Precision(g, *out)


# --- Sao (2026): onsets on a fine r grid, the spike test, the temperature sweep --------------------------------
@dataclass
class Onsets:
    sweep: softmax.RSweep
    grad_threshold: float
    random_threshold: float
    grad_onset: float         # first r with loss ratio > grad_threshold along -grad f (inf: none)
    random_onsets: Tensor     # [D-1] the same for random directions with random_threshold
    random_onsets_strict: Tensor  # [D-1] random directions with grad_threshold (1.1)


def onset(ratio: Tensor, r: Tensor, threshold: float) -> Tensor:
    """First r with loss ratio > threshold, per row of ``ratio`` [D, K] (inf when none)."""
    above = ratio > threshold
    first = torch.argmax(above.to(torch.int64), dim=-1)
    return torch.where(above.any(-1), r[first], torch.full_like(r[first], float("inf")))


@lru_cache(maxsize=1)
def onsets(random_directions: int = 10, grad_threshold: float = 1.1, random_threshold: float = 2.0,
           device=None) -> Onsets:
    """One step of length r rho_a on the trained softmax regression, on the fine grid ``ONSET_R`` (computed on
    ``device``, None: :func:`steplab.device.resolve_device` for the steps' numbers; returned on the CPU)."""
    trained = trained_softmax(device=device)
    device = resolve_device(device, work_items=len(ONSET_R) * trained.params.numel())
    params, split = trained.params.to(device), move_to(trained.split, device)
    directions = softmax.sweep_directions(params, split, random_directions, 0)
    sweep = to_host(softmax.r_sweep(params, split, directions, ONSET_R))
    r = sweep.r_values
    return Onsets(sweep, grad_threshold, random_threshold, float(onset(sweep.loss_ratio[:1], r, grad_threshold)[0]),
                  onset(sweep.loss_ratio[1:], r, random_threshold), onset(sweep.loss_ratio[1:], r, grad_threshold))


@lru_cache(maxsize=1)
def spike_runs(device=None) -> spike.SpikeRuns:
    """:func:`steplab.logistic.spike.spike_test` with its defaults (eta_0 = 1e-3, x1000 and x1e4, 5 seeds)."""
    return to_host(spike.spike_test(device=device))


@dataclass
class Temperatures:
    temperatures: Tensor
    tau_onset: Tensor   # [K] first tau with loss ratio > 1.1 along -grad f of the tempered loss
    r_onset: Tensor     # [K] the same onset measured in r_T = tau Delta_a / (pi T)
    tau_spread: float   # std of log10 tau onsets
    r_spread: float     # std of log10 r onsets


@lru_cache(maxsize=1)
def temperature_sweep(temperatures: tuple = TEMPERATURES, threshold: float = 1.1, device=None) -> Temperatures:
    """Logits z / T of the trained softmax regression; one step tau along -grad f on a fine tau grid (computed on
    ``device``, None: :func:`steplab.device.resolve_device`; returned on the CPU)."""
    trained = trained_softmax(device=device)
    device = resolve_device(device, work_items=281 * trained.params.numel())
    split, params = move_to(trained.split, device), trained.params.to(device)
    grid = torch.logspace(-3, 4, 281, dtype=torch.float64, device=device)
    tau_onsets, r_onsets = [], []
    for temp in temperatures:
        def tempered(p, x, temp=temp):
            return softmax.logits(p, x) / temp  # z_T = z / T

        p = params.clone().requires_grad_(True)
        z = tempered(p, split.train_x)
        loss = (torch.logsumexp(z, -1) - z.gather(-1, split.train_y[:, None])[:, 0]).mean()
        (grad,) = torch.autograd.grad(loss, p)
        v = -grad / grad.norm()
        rho = ghosts.spread_radius(ghosts.logit_slopes(lambda q, f=tempered: f(q, split.train_x), params, v))
        moved = params + grid[:, None] * v  # [G, P]
        zt = softmax.logits(moved, split.train_x) / temp
        after = (torch.logsumexp(zt, -1) - zt.gather(-1, split.train_y.expand(len(grid), -1)[..., None])[..., 0])
        ratio = after.mean(-1) / loss.detach()
        tau = onset(ratio[None], grid, threshold)[0]
        tau_onsets.append(tau)
        r_onsets.append(tau / rho)  # r_T = tau / rho_a of the tempered logits = tau Delta_a / (pi T)
    tau_t, r_t = to_host(torch.stack(tau_onsets)), to_host(torch.stack(r_onsets))
    return Temperatures(torch.tensor(temperatures), tau_t, r_t, float(torch.log10(tau_t).std()),
                        float(torch.log10(r_t).std()))
