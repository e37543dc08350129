"""The experiments behind the notebook's numbers, the claims and the tests (one code path, cached).

Each function returns a dataclass of tensors and numbers; notebook 04, ``steplab.rnn.claims`` and
``tests/test_rnn.py`` call these same functions. The slow ones are memoised (``functools.lru_cache``;
their results are frozen dataclasses), so the notebook's closing claims table does not train the RNNs a
second time.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import torch

from steplab.device import resolve_device, to_host
from steplab.rnn.cliff import (
    cliff_loss_and_grad,
    cliff_surface,
    descend,
    random_wall_starts,
    step_lengths,
    valley_line,
    wall_centred_b,
    wall_line,
)
from steplab.rnn.identities import (  # noqa: F401  (re-exported: the notebook and claims call ex.<name>)
    ClipInvariants,
    JacobianNorms,
    VanishingCheck,
    clip_invariants,
    omega_on_scaled_orthogonal,
    vanishing_check,
)
from steplab.rnn.success_rates import SuccessRates, load
from steplab.rnn.theory import WALL_W, bifurcation_points, fixed_point_bias, fixed_point_stable, limit_states
from steplab.rnn.train import TrainingResult, train
from steplab.rnn.vanishing import VanishingView
from steplab.rnn.vanishing import vanishing_view as _vanishing_view
from steplab.trajectory import Trajectory

Tensor = torch.Tensor
SUCCESS_LOSS = 1e-3
PLATEAU_LOSS = 0.05
# Training comparisons use ten seeds: unclipped training is chaotic (a last-bit difference in a kernel changes
# which seeds succeed), so only counts over many seeds, checked against bands with a margin, are the same on
# every machine (ATEN_CPU_CAPABILITY=default / avx2 / avx512, 1 or 2 threads).
SEEDS = tuple(range(10))
# Three starts beside the wall and their step sizes, our choice: Fig. 6 of the paper gives no start points.
THREE_STARTS = ((5.0, -2.3), (4.8, -2.4), (5.5, -2.7))
THREE_STARTS_LRS = (1.0, 0.5, 0.5)


@dataclass(frozen=True)
class CliffGrid:
    """E_50 and ||grad E_50|| ``[len(b), len(w)]`` on an even grid, with the wall and valley lines over ``w``."""

    w: Tensor
    b: Tensor
    loss: Tensor
    grad_norm: Tensor
    wall: Tensor
    valley: Tensor


def cliff_grid(w_range=(2.0, 10.0), b_range=(-6.0, 7.0), w_points: int = 400, b_points: int = 650,
               device=None) -> CliffGrid:
    """The cliff surface of Fig. 6 on an even float64 grid (default window w in [2, 10], b in [-6, 7])."""
    f64 = dict(dtype=torch.float64, device=resolve_device(device, work_items=w_points * b_points))
    w = torch.linspace(*w_range, w_points, **f64)
    b = torch.linspace(*b_range, b_points, **f64)
    loss, grad_norm = cliff_surface(w, b)
    return to_host(CliffGrid(w, b, loss, grad_norm, wall_line(w), valley_line(w)))


@dataclass(frozen=True)
class WallProfile:
    """Loss and ||grad E|| on values of b across the wall at one w; ``max``/``median`` of the norm."""

    w: float
    b: Tensor
    loss: Tensor
    grad_norm: Tensor
    max: float
    median: float
    b_steepest: float
    loss_left: float
    loss_right: float


def wall_profile(w: float = 5.0, half_width: float = 0.01, points: int = 2001,
                 dtype: torch.dtype = torch.float64, device=None) -> WallProfile:
    """Loss and ||grad E|| on ``points`` values of b centred on the wall b_wall(w) (Sec. 2.3, Fig. 6)."""
    b = wall_centred_b(w, half_width, points, dtype).to(resolve_device(device, work_items=points))
    loss, gw, gb = cliff_loss_and_grad(torch.full_like(b, w), b)
    norm = torch.sqrt(gw**2 + gb**2)  # ||grad E|| = sqrt((dE/dw)^2 + (dE/db)^2)
    return to_host(WallProfile(w, b, loss, norm, float(norm.max()), float(norm.median()), float(b[norm.argmax()]),
                               float(loss[0]), float(loss[-1])))


@dataclass(frozen=True)
class GradientPeaks:
    """max_b ||grad E(w, b)|| for each w in ``ws``."""

    ws: tuple[float, ...]
    peaks: tuple[float, ...]

    def at(self, w: float) -> float:
        return self.peaks[self.ws.index(w)]


def peak_grad_norm(w: float, points: int = 2001, rounds: int = 4, device=None) -> float:
    """max_b ||grad E(w, b)||, found on b in [-8, 4] plus (w > 4.2553) the wall-centred grid, then zoomed ``rounds``
    times onto +-2 grid spacings around the largest value (the wall is ~1e-6 wide at w = 5.5: an even grid misses it).
    """
    f64 = dict(dtype=torch.float64, device=resolve_device(device, work_items=2 * points))
    b = torch.linspace(-8.0, 4.0, points, **f64)
    if w > WALL_W:
        b = torch.cat([b, wall_centred_b(w, 0.01, points).to(b.device)])
    spacing = 12.0 / (points - 1)
    for _ in range(rounds + 1):
        _, gw, gb = cliff_loss_and_grad(torch.full_like(b, w), b)
        norm = torch.sqrt(gw**2 + gb**2)  # ||grad E|| = sqrt((dE/dw)^2 + (dE/db)^2)
        centre, spacing = float(b[norm.argmax()]), min(spacing, float(b.diff().abs().min()))
        b = torch.linspace(centre - 2 * spacing, centre + 2 * spacing, points, **f64)
    return float(norm.max())


def max_grad_norm_over_b(ws=(3.0, 4.5, 5.0, 5.5), points: int = 2001, device=None) -> GradientPeaks:
    """:func:`peak_grad_norm` for each w in ``ws``."""
    return GradientPeaks(tuple(ws), tuple(peak_grad_norm(w, points, device=device) for w in ws))


@dataclass(frozen=True)
class Bifurcation:
    """Doya's picture (Fig. 3) at one w: the fixed-point curve b(x*) with its stability, the saddle-node points
    in closed form, and the window of b where iterating from x = -10 and from x = +10 ends on different attractors."""

    w: float
    x: Tensor
    b_of_x: Tensor
    stable: Tensor
    bifurcations: tuple[tuple[float, float], tuple[float, float]]
    b: Tensor
    limit_low: Tensor
    limit_high: Tensor
    measured_window: tuple[float, float]

    @property
    def spacing(self) -> float:
        return float(self.b[1] - self.b[0])


def doya_bifurcation(w: float = 5.0, points: int = 1401, device=None) -> Bifurcation:
    """x* against b at ``w`` (Pascanu 2013, Fig. 3, after Doya 1993): curve, stability, window, measured window."""
    f64 = dict(dtype=torch.float64, device=resolve_device(device, work_items=points))
    x = torch.linspace(-6.0, 6.0, 1201, **f64)
    (b_low, _), (b_high, _) = points_ = bifurcation_points(w)
    b = torch.linspace(b_low - 0.55, b_high + 0.55, points, **f64)
    low, high = limit_states(w, b, -10.0), limit_states(w, b, 10.0)
    two = (high - low).abs() > 1e-3  # two attractors: the two starts end apart
    return to_host(Bifurcation(w, x, fixed_point_bias(w, x), fixed_point_stable(w, x), points_, b, low, high,
                               (float(b[two].min()), float(b[two].max()))))


@dataclass(frozen=True)
class DescentSummary:
    """One start's descent: first step length, E before/after it, ||grad E|| after it, final E."""

    first_step: float
    loss0: float
    loss1: float
    grad1: float
    final_loss: float
    trajectory: Trajectory


@dataclass(frozen=True)
class OneStep:
    unclipped: DescentSummary
    clipped: DescentSummary


def one_step_from_steepest(w: float = 5.0, lr: float = 0.1, steps: int = 300, clip_threshold: float = 1.0,
                           device=None) -> OneStep:
    """Unclipped vs clipped GD (Alg. 1) from the steepest point (w, b*) of :func:`wall_profile`."""
    start = torch.tensor([[w, wall_profile(w).b_steepest]], dtype=torch.float64,
                         device=resolve_device(device, work_items=2)).repeat(2, 1)
    summaries = []
    for traj in (descend(start[:1], lr, None, steps), descend(start[1:], lr, clip_threshold, steps)):
        summaries.append(DescentSummary(float(step_lengths(traj)[0, 0]), float(traj.loss[0, 0]),
                                        float(traj.loss[1, 0]), float(traj.grad_norm[1, 0]),
                                        float(traj.loss[-1, 0]), traj))
    return to_host(OneStep(*summaries))


@dataclass(frozen=True)
class ThreeStarts:
    """GD from :data:`THREE_STARTS`; per start [3]: largest step, its index, min E up to it, final E and (w, b)."""

    trajectory: Trajectory
    largest_step: Tensor
    jump_step: Tensor
    min_loss_before_jump: Tensor
    final_loss: Tensor
    final: Tensor


def three_starts(steps: int = 300, clip_threshold: float | None = None, device=None) -> ThreeStarts:
    """GD (clipped at ``clip_threshold`` if given) from (5, -2.3) at lr 1 and (4.8, -2.4), (5.5, -2.7) at lr 0.5."""
    f64 = dict(dtype=torch.float64, device=resolve_device(device, work_items=2 * len(THREE_STARTS)))
    starts = torch.tensor(THREE_STARTS, **f64)
    traj = to_host(descend(starts, torch.tensor(THREE_STARTS_LRS, **f64), clip_threshold, steps))
    lengths = step_lengths(traj)
    jump = lengths.argmax(0)
    before = torch.stack([traj.loss[: int(jump[r]) + 1, r].min() for r in range(len(THREE_STARTS))])
    return ThreeStarts(traj, lengths.max(0).values, jump, before, traj.loss[-1], traj.final)


@dataclass(frozen=True)
class ManyStarts:
    """Counts out of ``runs`` starts: E < 1e-3 (success) and E > 0.05 (stuck) after the last step."""

    runs: int
    clipped_successes: int
    unclipped_successes: int
    clipped_stuck_count: int
    unclipped_stuck_count: int

    @property
    def clipped(self) -> float:
        return self.clipped_successes / self.runs

    @property
    def unclipped(self) -> float:
        return self.unclipped_successes / self.runs

    @property
    def unclipped_stuck(self) -> float:
        return self.unclipped_stuck_count / self.runs


@lru_cache(maxsize=8)
def many_starts_success(runs: int = 400, seed: int = 0, lr: float = 0.5, steps: int = 300,
                        dtype: torch.dtype = torch.float64, device=None) -> ManyStarts:
    """Clipped (c = 1) and unclipped GD from :func:`random_wall_starts`: how many succeed or get stuck."""
    starts = random_wall_starts(runs, seed, dtype, device)
    counts = {}
    for name, c in (("clipped", 1.0), ("unclipped", None)):
        final = descend(starts, lr, c, steps, record_every=None).loss[-1]
        counts[name] = (int((final < SUCCESS_LOSS).sum()), int((final > PLATEAU_LOSS).sum()))
    return ManyStarts(runs, counts["clipped"][0], counts["unclipped"][0], counts["clipped"][1],
                      counts["unclipped"][1])


@lru_cache(maxsize=8)
def temporal_order_comparison(seeds=SEEDS, length: int = 20, clip_threshold: float = 1.0,
                              max_iterations: int = 2000, omega_weight: float = 0.0, device=None) -> TrainingResult:
    """MSGD vs MSGD-C (and MSGD-CR if ``omega_weight``) on temporal order (Sec. 4.1), one batched training call.

    Runs: ``seeds`` unclipped, then ``seeds`` clipped (with Omega weight ``omega_weight``); use
    :func:`split_solved` for the two counts.
    """
    seeds = tuple(seeds)
    return to_host(train("temporal_order", length, seeds=seeds * 2, clip_thresholds=(None,) * len(seeds)
                         + (clip_threshold,) * len(seeds),
                         omega_weights=(0.0,) * len(seeds) + (omega_weight,) * len(seeds),
                         max_iterations=max_iterations, device=device))


def split_solved(result: TrainingResult) -> tuple[int, int]:
    """(first half solved, second half solved): (unclipped, clipped) of :func:`temporal_order_comparison`."""
    half = len(result.seeds) // 2
    return int(result.solved[:half].sum()), int(result.solved[half:].sum())


def loss_up_after_largest_spike(result: TrainingResult, runs, window: int = 10) -> int:
    """How many of ``runs`` have a higher mean minibatch loss over the ``window`` iterations after their largest
    pre-clip gradient norm than over the ``window`` before it (the cliff's signature: a spike, then worse)."""
    count = 0
    for r in runs:
        i = int(result.grad_norm[:, r].nan_to_num(0).argmax())
        before, after = result.loss[max(i - window, 0):i, r], result.loss[i + 1:i + 1 + window, r]
        count += int(before.numel() > 0 and after.numel() > 0 and float(after.nanmean()) > float(before.nanmean()))
    return count


def average_grad_norm(task: str = "temporal_order", length: int = 20, seeds=(0, 1, 2), iterations: int = 200,
                      **kwargs) -> float:
    """The statistic of the paper's threshold rule (Sec. 3.2): the mean unclipped ||g|| over the first updates."""
    result = train(task, length, seeds=seeds, clip_thresholds=(None,), max_iterations=iterations,
                   eval_every=iterations, eval_size=100, **kwargs)  # device= among the kwargs
    return float(result.grad_norm.nanmean())


@dataclass(frozen=True)
class ThresholdSweep:
    """Clip thresholds ``multiples`` x ``average_norm``; ``solved`` [len(multiples), len(seeds)]."""

    average_norm: float
    multiples: tuple[float, ...]
    thresholds: tuple[float, ...]
    solved: Tensor
    result: TrainingResult

    @property
    def solved_counts(self) -> tuple[int, ...]:
        """Seeds solved at each multiple."""
        return tuple(int(n) for n in self.solved.sum(1))

    def solved_count(self, multiple: float) -> int:
        """Seeds solved at threshold ``multiple`` x the average norm."""
        return self.solved_counts[self.multiples.index(multiple)]


@lru_cache(maxsize=4)
def threshold_sweep(multiples=(0.5, 1.0, 10.0), seeds=SEEDS, length: int = 20,
                    max_iterations: int = 2000, device=None) -> ThresholdSweep:
    """Clip thresholds at multiples of the average unclipped gradient norm (the paper's half-to-ten-times rule)."""
    average = average_grad_norm("temporal_order", length, seeds=seeds, iterations=200, device=device)
    thresholds = tuple(m * average for m in multiples)
    runs = [(c, s) for c in thresholds for s in seeds]
    result = to_host(train("temporal_order", length, seeds=[s for _, s in runs],
                           clip_thresholds=[c for c, _ in runs], max_iterations=max_iterations, device=device))
    return ThresholdSweep(average, tuple(multiples), thresholds, result.solved.reshape(len(multiples), len(seeds)),
                          result)


def stored_success_rates() -> SuccessRates:
    """The success-rate grid stored by ``python -m steplab.rnn.success_rates`` (read, not re-trained)."""
    return load()


@lru_cache(maxsize=2)
def vanishing_view(length: int = 50, iterations: int = 100, device=None) -> VanishingView:
    """:func:`steplab.rnn.vanishing.vanishing_view`, cached for the notebook and the claims."""
    return to_host(_vanishing_view(length, iterations, device=device))
