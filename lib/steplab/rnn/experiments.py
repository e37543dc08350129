"""The experiments behind the notebook's numbers, the claims and the tests (one code path, cached).

Each function returns plain tensors / dicts; the notebook, ``steplab.rnn.claims`` and
``tests/test_rnn.py`` call these same functions. Results are memoised (``functools.lru_cache``), so
the notebook's closing claims table does not train the RNNs a second time.
"""

from __future__ import annotations

from functools import lru_cache

import torch

from steplab.rnn.cliff import (
    BRIEF_LRS,
    BRIEF_STARTS,
    cliff_loss,
    cliff_loss_and_grad,
    descend,
    random_wall_starts,
    step_lengths,
    wall_centred_b,
)
from steplab.rnn.model import GAMMA, jacobian_product_norms, scaled_orthogonal
from steplab.rnn.train import TrainingResult, average_grad_norm, train

SUCCESS_LOSS = 1e-3
PLATEAU_LOSS = 0.05
# Training comparisons use ten seeds: unclipped training is chaotic (a last-bit difference in a kernel changes
# which seeds succeed), so only counts over many seeds, checked against bands with a margin, are the same on
# every machine (ATEN_CPU_CAPABILITY=default / avx2 / avx512, 1 or 2 threads).
SEEDS = tuple(range(10))


def wall_profile(w: float = 5.0, half_width: float = 0.01, points: int = 2001,
                 dtype: torch.dtype = torch.float64) -> dict:
    """Loss and ||grad E|| on ``points`` values of b centred on the wall b_wall(w) (brief check 1)."""
    b = wall_centred_b(w, half_width, points, dtype)
    loss, gw, gb = cliff_loss_and_grad(torch.full_like(b, w), b)
    norm = torch.sqrt(gw**2 + gb**2)
    return {"b": b, "loss": loss, "grad_norm": norm, "max": float(norm.max()), "median": float(norm.median()),
            "b_steepest": float(b[norm.argmax()]), "loss_left": float(loss[0]), "loss_right": float(loss[-1])}


def max_grad_norm_over_b(ws=(3.0, 4.5, 5.0, 5.5), points: int = 2001) -> dict[float, float]:
    """max_b ||grad E(w, b)||: on b in [-8, 4] for w <= 4 (no wall), on the wall-centred grid for w > 4."""
    out = {}
    for w in ws:
        if w <= 4:
            b = torch.linspace(-8.0, 4.0, points, dtype=torch.float64)
            _, gw, gb = cliff_loss_and_grad(torch.full_like(b, w), b)
            out[w] = float(torch.sqrt(gw**2 + gb**2).max())
        else:
            out[w] = wall_profile(w, points=points)["max"]
    return out


def one_step_from_steepest(w: float = 5.0, lr: float = 0.1, steps: int = 300, clip_threshold: float = 1.0) -> dict:
    """Unclipped vs clipped GD from the steepest wall point (w, b*) (brief check 3)."""
    start = torch.tensor([[w, wall_profile(w)["b_steepest"]]], dtype=torch.float64).repeat(2, 1)
    plain = descend(start[:1], lr, None, steps)
    clipped = descend(start[1:], lr, clip_threshold, steps)
    result = {}
    for name, traj in (("unclipped", plain), ("clipped", clipped)):
        result[name] = {"first_step": float(step_lengths(traj)[0, 0]), "loss0": float(traj.loss[0, 0]),
                        "loss1": float(traj.loss[1, 0]), "grad1": float(traj.grad_norm[1, 0]),
                        "final_loss": float(traj.loss[-1, 0]), "trajectory": traj}
    return result


def brief_starts(steps: int = 300, clip_threshold: float | None = None) -> dict:
    """The brief's three starts (5, -2.3) lr 1; (4.8, -2.4) lr 0.5; (5.5, -2.7) lr 0.5 (Sec. 4a)."""
    starts = torch.tensor(BRIEF_STARTS, dtype=torch.float64)
    traj = descend(starts, torch.tensor(BRIEF_LRS, dtype=torch.float64), clip_threshold, steps)
    lengths = step_lengths(traj)
    jump = lengths.argmax(0)
    before = torch.stack([traj.loss[: int(jump[r]) + 1, r].min() for r in range(len(BRIEF_STARTS))])
    return {"trajectory": traj, "largest_step": lengths.max(0).values, "jump_step": jump,
            "min_loss_before_jump": before, "final_loss": traj.loss[-1], "final": traj.final}


@lru_cache(maxsize=8)
def many_starts_success(runs: int = 400, seed: int = 0, lr: float = 0.5, steps: int = 300,
                        dtype: torch.dtype = torch.float64) -> dict:
    """Success fractions (E < 1e-3 after ``steps``) of clipped (c = 1) and unclipped GD (brief check 4)."""
    starts = random_wall_starts(runs, seed, dtype)
    out = {}
    for name, c in (("clipped", 1.0), ("unclipped", None)):
        traj = descend(starts, lr, c, steps, record_every=None)
        final = traj.loss[-1]
        out[name] = float((final < SUCCESS_LOSS).double().mean())
        out[name + "_stuck"] = float((final > PLATEAU_LOSS).double().mean())
    return out


def vanishing_check(steps: int = 50, size: int = 50, seed: int = 0) -> dict:
    """||dx_t/dx_0|| against (lambda_1 gamma)^t for lambda_1 below 1/gamma (tanh 0.9, sigmoid 3.6) and above."""
    cases = {"tanh": (0.9, 1.5, 3.0), "sigmoid": (3.6, 6.0, 12.0)}
    out = {}
    for activation, lambdas in cases.items():
        w = scaled_orthogonal(size, torch.tensor(lambdas), seed)
        norms = jacobian_product_norms(w, steps, activation, seed=seed)
        t = torch.arange(steps + 1, dtype=torch.float64)
        bound = (torch.tensor(lambdas, dtype=torch.float64)[None, :] * GAMMA[activation]) ** t[:, None]
        out[activation] = {"lambdas": lambdas, "norms": norms, "bound": bound,
                           "ratio_max": float((norms[:, 0] / bound[:, 0]).max())}
    return out


@lru_cache(maxsize=8)
def temporal_order_comparison(seeds=SEEDS, length: int = 20, clip_threshold: float = 1.0,
                              max_iterations: int = 2000, omega_weight: float = 0.0) -> TrainingResult:
    """MSGD vs MSGD-C (and MSGD-CR if ``omega_weight``) on temporal order, one batched training call.

    Runs: ``seeds`` unclipped, then ``seeds`` clipped (with Omega weight ``omega_weight``); use
    :func:`split_solved` for the two counts.
    """
    seeds = tuple(seeds)
    return train("temporal_order", length, seeds=seeds * 2, clip_thresholds=(None,) * len(seeds)
                 + (clip_threshold,) * len(seeds), omega_weights=(0.0,) * len(seeds) + (omega_weight,) * len(seeds),
                 max_iterations=max_iterations)


def split_solved(result: TrainingResult) -> tuple[int, int]:
    """(unclipped solved, clipped solved) of a :func:`temporal_order_comparison` result."""
    half = len(result.seeds) // 2
    return int(result.solved[:half].sum()), int(result.solved[half:].sum())


@lru_cache(maxsize=4)
def threshold_sweep(multiples=(0.5, 1.0, 10.0), seeds=SEEDS, length: int = 20,
                    max_iterations: int = 2000) -> dict:
    """Clip thresholds at multiples of the average unclipped gradient norm (the paper's ½–10× rule)."""
    average = average_grad_norm("temporal_order", length, seeds=seeds, iterations=200)
    thresholds = [m * average for m in multiples]
    runs = [(c, s) for c in thresholds for s in seeds]
    result = train("temporal_order", length, seeds=[s for _, s in runs], clip_thresholds=[c for c, _ in runs],
                   max_iterations=max_iterations)
    solved = result.solved.reshape(len(multiples), len(seeds))
    return {"average_norm": average, "multiples": multiples, "thresholds": thresholds,
            "solved": solved, "result": result}


def cliff_loss_grid(w_values, b_values) -> torch.Tensor:
    """E_50 on a grid (for the interactive cell), float64."""
    w = torch.as_tensor(w_values, dtype=torch.float64)
    b = torch.as_tensor(b_values, dtype=torch.float64)
    return cliff_loss(w[None, :], b[:, None])
