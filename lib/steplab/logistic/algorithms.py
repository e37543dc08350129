"""LR+GD, (Normalized) Batch Perceptron, Perceptron, Normalized LR+GD and rho_a-capped GD, batched over runs.

One call runs a whole sweep of step sizes gamma (a [R] tensor): every tensor carries a leading runs
dimension. theta_0 = 0 for every method. Update rules (z_i = y_i a_i, m_i = z_i^T theta, S_t = {i: m_i <= 0}):

* ``lr_gd``  (Tyurin 2025, eq. 2-3):  theta <- theta - gamma grad f(theta),  grad f = -(1/n) sum sigmoid(-m_i) z_i.
* ``normalized_lr_gd`` (Tyurin 2025, Sec. 6): theta <- theta - gamma beta_t grad f, beta_t = n / sum_i sigmoid(-m_i),
  computed in the stable form  -beta_t grad f = sum_i p_i z_i,  p = softmax(-softplus(m)) (the naive beta_t
  overflows right after separation at large gamma).
* ``batch_perceptron`` (Tyurin 2025, Sec. 3; Duda-Hart-Stork): theta_1 = (gamma / 2n) sum_i z_i (the 1/2 is
  sigmoid(0)), then theta <- theta + (gamma/n) sum_{S_t} z_i.  Scaled by gamma so that it is the gamma -> inf limit of
  LR+GD *at the same scale* (Thm 3.2: theta_t / gamma -> hat theta_t); with gamma = 1 it is hat theta_t.
* ``normalized_batch_perceptron`` (Tyurin 2025, Thm 5.3): theta <- theta + (gamma/|S_t|) sum_{S_t} z_i, with
  S_0 = all points, so theta_1 = (gamma/n) sum z_i (no 1/2: the gamma -> inf limit of Normalized LR+GD).
* ``perceptron`` (Rosenblatt; Tyurin 2025, Thm 5.2): theta <- theta + gamma z_j, j = the first index in S_t
  (or a random one when a ``generator`` is given).
* ``capped_lr_gd`` (Sao 2026, Prop. 5.2 applied to LR+GD): the step -gamma grad f is shortened to the length
  r_max * rho_a, rho_a = pi / max_i |a_i^T v| along v = -grad f/||grad f||, i.e. step = -min(gamma, r_max pi /
  max_i |z_i^T grad f|) grad f, so that the normalized step r_t <= r_max.

The normalized step of every method is r_t = max_i |a_i^T (theta_{t+1} - theta_t)| / pi (Sao 2026, Def. 5.1 with
the exact linear-model radius rho_a = pi / max_i |a_i^T v|).

Resuming: :func:`run_gd` returns a :class:`History` whose ``state`` (a :class:`GDState`: theta_T, T and the
separation times so far) can be passed back as ``state=`` to run more steps; N steps, then N more from
``history.state``, give bit for bit the iterates of one run of 2N steps, and :meth:`History.extend` joins the
two histories into that run's history.

Why not ``steplab.trajectory.run``: the same updates written as a ``trajectory.run`` problem and transform are
1.6-3.3x slower with the loss's true oracle (it computes grad f, which the perceptrons do not need, and the
transform recomputes the margins) and still 1.2-3.0x slower when the oracle hands the margins over in place of
the gradient; per-step divergence bookkeeping dominates on small data (3.3x on the 4-point toy), and
``stop_at_separation`` (Table 1, up to 6000 steps) would need chunked resumes to stop early. Measured side by
side, one torch thread, bit for bit the same iterates: ``.venv/bin/python benchmarks/bench_logistic_driver.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from steplab.device import host_check_interval, resolve_device, to_host
from steplab.logistic import ghosts, metrics
from steplab.logistic.data import Dataset, check_labels
from steplab.validation import check_int, check_positive

Tensor = torch.Tensor
METHODS = ("lr_gd", "normalized_lr_gd", "batch_perceptron", "normalized_batch_perceptron", "perceptron",
           "capped_lr_gd")


@dataclass
class GDState:
    """Where a :func:`run_gd` call stopped; pass it back as ``state=`` to continue the same runs.

    theta:        [R, d] theta_T
    step:         T, the number of updates made so far (the Batch Perceptron's first step differs)
    separated_at: [R] first t in 1..T with every margin > 0, or -1 (``stop_at_separation`` freezes those runs)
    """

    theta: Tensor
    step: int
    separated_at: Tensor


@dataclass
class History:
    """What :func:`run_gd` recorded. R = runs, T = steps of this call, d = dimension; row k is t = start + k.

    weights:         [T+1, R, d] theta_t (None when ``record_weights=False``)
    loss:            [T+1, R]    f(theta_t), mean logistic loss
    accuracy:        [T+1, R]    fraction of margins > 0
    grad_norm:       [T+1, R]    ||grad f(theta_t)||
    min_margin:      [T+1, R]    min_i y_i a_i^T theta_t
    normalized_step: [T, R]      r_t of the step theta_t -> theta_{t+1} (0 once a run is frozen)
    separated_at:    [R]         first t >= 1 with all margins > 0 (counted from t = 0, also when resumed), or -1
    start:           the t of row 0 (0 unless resumed from a :class:`GDState`)
    state:           a :class:`GDState` to continue from (``run_gd(..., state=history.state)``)
    """

    method: str
    step_sizes: Tensor
    weights: Tensor | None
    loss: Tensor
    accuracy: Tensor
    grad_norm: Tensor
    min_margin: Tensor
    normalized_step: Tensor
    separated_at: Tensor
    start: int = 0
    state: GDState | None = None

    @property
    def steps(self) -> int:
        """Number of updates this history covers (rows - 1)."""
        return self.loss.shape[0] - 1

    @property
    def runs(self) -> int:
        return self.loss.shape[1]

    @property
    def stays_separated_from(self) -> Tensor:
        """[R] first t from which every recorded iterate separates (-1: the last one does not); counted from
        t = 0 also when resumed. Differs from ``separated_at`` when a run separates and loses it again."""
        found = metrics.stays_separated_from(self.accuracy)
        return torch.where(found >= 0, found + self.start, found)

    def separation_message(self, run: int = 0) -> str:
        """``'separated at t = 83'`` or ``'not separated within T = 50 steps'`` (T = the last t recorded)."""
        t = int(self.separated_at[run])
        return f"separated at t = {t}" if t >= 0 else f"not separated within T = {self.start + self.steps} steps"

    def require_separation(self) -> Tensor:
        """``separated_at``, or a ``RuntimeError`` naming the runs not separated within T."""
        missing = (self.separated_at < 0).nonzero().flatten().tolist()
        if missing:
            gammas = [f"{float(self.step_sizes[r]):g}" for r in missing]
            last = self.start + self.steps
            raise RuntimeError(f"{self.method}: not separated within T = {last} steps for step sizes {gammas} "
                               "(is the data linearly separable? is T large enough?)")
        return self.separated_at

    def extend(self, later: History) -> History:
        """This history followed by ``later`` (a run resumed from ``self.state``): the history of one longer run."""
        if later.start != self.start + self.steps or later.method != self.method:
            raise ValueError(f"can only extend by a {self.method} run resumed at t = {self.start + self.steps}, "
                             f"got {later.method} from t = {later.start}")

        def join(a, b):
            return None if a is None or b is None else torch.cat([a, b[1:]])

        return History(self.method, self.step_sizes, join(self.weights, later.weights), join(self.loss, later.loss),
                       join(self.accuracy, later.accuracy), join(self.grad_norm, later.grad_norm),
                       join(self.min_margin, later.min_margin),
                       torch.cat([self.normalized_step, later.normalized_step]), later.separated_at, self.start,
                       later.state)


def displacement(method, theta, margin, signed, gamma, t, r_max, generator=None):
    """The displacement theta_{t+1} - theta_t of ``method`` at step ``t`` for every run ([R, d]).

    ``margin`` are the current margins y_i <theta, a_i> ([R, n]), ``signed`` the rows y_i a_i, ``gamma`` the
    per-run step sizes [R], ``r_max`` the cap of ``capped_lr_gd``. :func:`run_gd` applies it; to continue runs,
    pass ``state=history.state`` to :func:`run_gd` rather than calling this in a loop.
    """
    n = signed.shape[0]
    g = gamma[:, None]
    if method == "lr_gd":
        return -g * metrics.gradient(margin, signed)  # -gamma grad f = (gamma/n) sum_i sigmoid(-m_i) z_i
    if method == "capped_lr_gd":
        grad = metrics.gradient(margin, signed)
        capped = ghosts.cap_step_size(ghosts.linear_spread(signed, grad), gamma, r_max)
        return -capped[:, None] * grad  # -min(gamma, r_max pi / max_i |z_i^T grad f|) grad f
    if method == "normalized_lr_gd":
        weights = torch.softmax(-F.softplus(margin), dim=-1)  # p_i = sigmoid(-m_i) / sum_j sigmoid(-m_j)
        return g * (weights @ signed)  # -gamma beta_t grad f = gamma sum_i p_i z_i
    wrong = (margin <= 0).to(signed.dtype)  # 1[i in S_t], S_t = {i: m_i <= 0}
    if method == "batch_perceptron":
        scale = 0.5 / n if t == 0 else 1.0 / n
        return g * scale * (wrong @ signed)  # (gamma/n) sum_{S_t} z_i, with sigmoid(0) = 1/2 at t = 0
    if method == "normalized_batch_perceptron":
        return g * (wrong @ signed) / wrong.sum(-1, keepdim=True).clamp_min(1.0)  # (gamma/|S_t|) sum_{S_t} z_i
    # perceptron: one misclassified point per step
    if generator is None:
        choice = torch.argmax(wrong, dim=-1)  # j = the first index in S_t
    else:
        noise = torch.rand(wrong.shape, generator=generator, dtype=signed.dtype, device=signed.device)
        choice = torch.argmax(wrong * (1.0 + noise), dim=-1)  # j = a uniformly random index in S_t
    any_wrong = wrong.amax(-1, keepdim=True)
    return g * any_wrong * signed[choice]  # gamma z_j (0 once S_t is empty)


def run_gd(
    features: Tensor,
    labels: Tensor,
    step_sizes,
    steps: int,
    method: str = "lr_gd",
    *,
    stop_at_separation: bool = False,
    record_weights: bool = True,
    r_max=1.0,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float64,
    state: GDState | None = None,
    device: torch.device | str | None = None,
) -> History:
    """Run ``method`` from theta_0 = 0 (or from ``state``) for ``steps`` updates, one run per entry of ``step_sizes``.

    ``stop_at_separation`` freezes each run at its separation time (its later rows repeat the frozen values)
    and stops early once every run is separated. Perceptron-type runs stop changing at separation anyway.
    ``r_max`` (float or [R] tensor) is the cap of ``capped_lr_gd``. ``dtype`` defaults to float64: the
    reduction at gamma >= 1e4 needs it (float32 changes separation times); float32 is for quick pictures only.
    ``state``: the ``state`` of an earlier :class:`History` of the same runs (same data, step sizes and method);
    the new history starts at its t (pass the same ``generator`` object to continue a random Perceptron).
    ``device``: where the runs compute and the history stays (None: :func:`steplab.device.resolve_device` for the
    R x n margins of a step; the data is moved there once). The early stop is checked every
    :func:`steplab.device.host_check_interval` steps; frozen runs do not move, so the history is the same.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    check_int("steps", steps, 1)
    runs_hint = torch.as_tensor(step_sizes).numel()
    device = resolve_device(device, work_items=runs_hint * torch.as_tensor(features).shape[0])
    labels = check_labels(torch.as_tensor(labels, dtype=dtype))  # checked where given, then moved with the data
    features = torch.as_tensor(features).to(device=device, dtype=dtype)
    labels = labels.to(device)
    if features.ndim != 2 or labels.shape != (features.shape[0],):
        raise ValueError(f"features must be [n, d] and labels [n], got {tuple(features.shape)}, {tuple(labels.shape)}")
    gamma = torch.as_tensor(step_sizes, dtype=features.dtype, device=features.device).reshape(-1)
    check_positive("step_sizes", gamma)
    r_max = torch.as_tensor(r_max, dtype=features.dtype, device=features.device)
    check_positive("r_max", r_max)

    signed = labels[:, None] * features
    runs, d = gamma.shape[0], features.shape[1]
    if state is None:
        state = GDState(features.new_zeros(runs, d), 0, torch.full((runs,), -1, device=features.device))
    elif state.theta.shape != (runs, d):
        raise ValueError(f"state.theta must be [runs, d] = {(runs, d)}, got {tuple(state.theta.shape)}")
    start = state.step
    theta = state.theta.to(features.dtype)
    weights = features.new_zeros(steps + 1, runs, d)
    weights[0] = theta
    separated = state.separated_at >= 0
    last = steps
    interval = host_check_interval(device)
    for k in range(steps):
        t = start + k
        margin = metrics.margins(theta, signed)
        if stop_at_separation and t >= 1:
            separated |= (margin > 0).all(-1)
            if (k + 1) % interval == 0 and bool(separated.all()):
                last = k
                break
        delta = displacement(method, theta, margin, signed, gamma, t, r_max, generator)
        if stop_at_separation and t >= 1:
            delta = torch.where(separated[:, None], torch.zeros_like(delta), delta)
        theta = theta + delta  # theta_{t+1} = theta_t + (theta_{t+1} - theta_t)
        weights[k + 1] = theta
    weights[last + 1:] = weights[last]
    loss, acc, grad_norm, min_margin, r = summaries(weights, signed)
    found = metrics.separation_time(acc)  # first row k >= 1 (row 0, t = start, was judged by the earlier call)
    found = torch.where(found >= 0, found + start, found)
    separated_at = torch.where(state.separated_at >= 0, state.separated_at, found)
    return History(method, gamma, weights if record_weights else None, loss, acc, grad_norm, min_margin, r,
                   separated_at, start, GDState(weights[-1].clone(), start + steps, separated_at))


def summaries(weights: Tensor, signed: Tensor, chunk_elements: int = 2**21):
    """Loss, accuracy, ||grad f||, min margin ([T+1, R]) and r_t ([T, R]) of recorded weights, in chunks of t."""
    rows, runs = weights.shape[:2]
    chunk = max(1, chunk_elements // max(1, runs * signed.shape[0]))
    out = [weights.new_empty(rows, runs) for _ in range(4)]
    r = weights.new_empty(rows - 1, runs)
    for start in range(0, rows, chunk):
        margin = metrics.margins(weights[start:start + chunk], signed)
        for series, value in zip(out, (metrics.logistic_loss(margin), metrics.accuracy(margin),
                                       torch.linalg.vector_norm(metrics.gradient(margin, signed), dim=-1),
                                       margin.min(-1).values)):
            series[start:start + chunk] = value
        steps = weights[max(start - 1, 0):start + chunk]
        r[max(start - 1, 0):start + chunk - 1] = ghosts.linear_normalized_step(signed, steps[1:] - steps[:-1])
    return (*out, r)


def run_on(dataset: Dataset, step_sizes, steps: int, method: str = "lr_gd", **kwargs) -> History:
    """:func:`run_gd` on a :class:`~steplab.logistic.data.Dataset` (``device=`` among the ``kwargs``)."""
    return run_gd(dataset.features, dataset.labels, step_sizes, steps, method, **kwargs)


def iterations_to_separate(dataset: Dataset, step_sizes, method: str, max_steps: int, device=None) -> Tensor:
    """Separation time per step size ([R] long); ``RuntimeError`` if some run is not separated within
    ``max_steps``. Runs stop at separation (needed for Normalized LR+GD, whose iterates then grow fast)."""
    history = run_on(dataset, step_sizes, max_steps, method, stop_at_separation=True, record_weights=False,
                     device=device)
    return to_host(history).require_separation()
