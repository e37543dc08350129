"""The diffusion family's experiments: one code path for the notebook, the claims and the tests (cached).

Each experiment returns a dataclass. Paper: Wizadwongsa et al. 2024 (ICLR).

* Linear stability, run on the samplers themselves: :func:`stability_table` (closed form vs root-finding,
  §2.3, App. A), :func:`growth_check` (u' = λu just outside/inside the boundary, Eq. 10), the App. C toy
  (:func:`toy_norms`, :func:`toy_paths`, Fig. 13) and :func:`step_eigenvalues` along a sampler path (App. K;
  :func:`ring_step_eigenvalues` on the ring model).
* :func:`gmm_sweep`: guided sampling of the analytic GMM (d = 64, 10 classes, w = 15), divergence fraction
  and median error against a fine RK4 reference, for many methods and step counts (the paper's §5 setting,
  with the exact ε of :mod:`~steplab.diffusion.gmm` in place of a network).
* :func:`ring_experiment`: the 2-D picture, eight classes on the unit circle (s = 0.05, w = 15, N = 8; Fig. 1).
* :func:`order_table` (App. F, Theorems 1–2), :func:`beta_one_differences` (β = 1 recovers the base method,
  §4.1–4.2; a regression test, no claim: the code paths coincide by construction) and
  :func:`diffusers_differences` (our DDIM/PLMS/DPM-Solver++ against diffusers' schedulers).

The β sweeps and DPM-Solver++ with HB are in :mod:`steplab.diffusion.sweeps`; the hand-written momentum trace
in :mod:`steplab.diffusion.trace`.

Every experiment takes ``device=None`` (:func:`steplab.device.resolve_device`, sized by its batch: the 1-number
ODEs of the order and trace checks take the CPU fast path); the starting noise is drawn on the CPU (the same on
every machine) and moved there, and each result is moved back with ``to_host`` before it is returned.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import torch

from steplab.device import cpu_threads, resolve_device, to_host
from steplab.diffusion import crosscheck, gmm, orders, theory
from steplab.diffusion.methods import Method
from steplab.diffusion.metrics import (
    assigned,
    assigned_fraction,
    diverged,
    divergence_fraction,
    median_error,
    reference_samples,
)
from steplab.diffusion.samplers import integrate, sample
from steplab.diffusion.schedule import sigma_grid
from steplab.validation import check_int

GMM_METHODS = ("ddim", "plms4", "hb3.9", "hb3.8", "ghvb3.8", "ghvb3.5", "ghvb2.5", "dpm++", "dpm++hb0.8")
GMM_STEPS = (8, 10, 12, 15, 20, 30)
RING_METHODS = ("ddim", "plms4", "hb3.8", "hb3.6", "ghvb3.5", "ghvb2.5")
REFERENCE_STEPS = 300  # RK4 in log σ; 250 steps already agree with 1000 to ≈1e-7 (our regression value)
STABILITY_ROWS = tuple(f"{family}{k - 1}{suffix}" if suffix else f"{family}{k}"
                       for family in ("hb", "ghvb") for k in (1, 2, 3, 4) for suffix in ("", ".9", ".8", ".5"))
TOY_STABLE = ("ddim", "hb1.9", "hb1.8", "ghvb1.8", "ghvb1.9")  # App. C: these converge where AB2 ("plms2") does not
ORDER_EXPECTED = {"plms1": 1, "hb3.8": 1, "hb1.5": 1, "ghvb0.5": 1, "ghvb1.5": 2, "plms2": 2, "plms4": 2,
                  "ghvb2.5": 2, "ghvb3.5": 2}  # Theorems 1-2, with the official warm-up capping the order at 2
EXACT_START_EXPECTED = {"plms3": 3, "plms4": 4}  # AB3/AB4 from exact starting values


@dataclass
class Sweep:
    """Results of a sampler sweep: ``divergence[m][N]``, ``error[m][N]`` (median ℓ2 vs reference) and
    ``assigned[m][N]`` (fraction whose nearest class mean is their label)."""

    methods: tuple[str, ...]
    steps: tuple[int, ...]
    divergence: dict[str, dict[int, float]]
    error: dict[str, dict[int, float]]
    assigned: dict[str, dict[int, float]]
    reference: torch.Tensor
    labels: torch.Tensor
    samples: dict[tuple[str, int], torch.Tensor]
    means: torch.Tensor  # the model's class means [classes, d]

    @property
    def batch(self) -> int:
        """Number of samples per method and step count."""
        return len(self.labels)

    def diverged_count(self, method: str, steps: int) -> int:
        """How many of the ``batch`` samples of ``method`` at N = ``steps`` diverged (‖x_N − x_ref‖ > 1)."""
        return round(self.divergence[method][steps] * self.batch)

    def diverged(self, method: str, steps: int) -> torch.Tensor:
        """Boolean [batch]: which samples of ``method`` at N = ``steps`` diverged."""
        return diverged(self.samples[method, steps], self.reference)

    def right_cluster(self, method: str, steps: int) -> torch.Tensor:
        """Boolean [batch]: which samples of ``method`` at N = ``steps`` lie nearest their own class mean."""
        return assigned(self.samples[method, steps], self.means, self.labels)


def gmm_problem(seed: int = 0, dim: int = 64, classes: int = 10, batch: int = 400, device=None):
    """(model, x_T, labels): means from ``seed``, noise from ``seed + 1000``, balanced labels (float64), x_T and the
    labels on ``device`` (None: :func:`steplab.device.resolve_device` for batch x dim numbers)."""
    device = resolve_device(device, work_items=batch * dim)
    model = gmm.random_gmm(classes=classes, dim=dim, std=0.1, seed=seed)
    return model, gmm.noise(batch, dim, seed=seed + 1000, device=device), gmm.balanced_labels(batch, classes, device)


@lru_cache(maxsize=8)
def gmm_sweep(methods: tuple[str, ...] = GMM_METHODS, steps: tuple[int, ...] = GMM_STEPS, guidance: float = 15.0,
              seed: int = 0, dim: int = 64, classes: int = 10, batch: int = 400, device=None) -> Sweep:
    """Divergence fraction and median error of every method at every N on the analytic GMM (w = ``guidance``)."""
    model, x_T, labels = gmm_problem(seed, dim, classes, batch, device)
    with cpu_threads(1):
        reference = reference_samples(model, guidance, x_T, labels, steps=REFERENCE_STEPS)
        divergence, error, assigned, samples = {}, {}, {}, {}
        for name in methods:
            divergence[name], error[name], assigned[name] = {}, {}, {}
            for n in steps:
                x = sample(model, name, n, guidance, x_T, labels)
                samples[name, n] = x
                divergence[name][n] = float(divergence_fraction(x, reference))
                error[name][n] = float(median_error(x, reference))
                assigned[name][n] = float(assigned_fraction(x, model.means, labels))
    return to_host(Sweep(tuple(methods), tuple(steps), divergence, error, assigned, reference, labels, samples,
                         model.means))


@lru_cache(maxsize=4)
def ring_experiment(methods: tuple[str, ...] = RING_METHODS, steps: int = 8, guidance: float = 15.0,
                    batch: int = 512, seed: int = 0, device=None) -> Sweep:
    """Eight classes on the unit circle (std 0.05) in 2-D, guided sampling at N = ``steps``."""
    model = gmm.ring_gmm()
    device = resolve_device(device, work_items=batch * 2)
    x_T, labels = gmm.noise(batch, 2, seed=seed, device=device), gmm.balanced_labels(batch, model.classes, device)
    with cpu_threads(1):
        reference = reference_samples(model, guidance, x_T, labels, steps=REFERENCE_STEPS)
        divergence, error, assigned, samples = {}, {}, {}, {}
        for name in methods:
            x = sample(model, name, steps, guidance, x_T, labels)
            samples[name, steps] = x
            divergence[name] = {steps: float(divergence_fraction(x, reference))}
            error[name] = {steps: float(median_error(x, reference))}
            assigned[name] = {steps: float(assigned_fraction(x, model.means, labels))}
    return to_host(Sweep(tuple(methods), (steps,), divergence, error, assigned, reference, labels, samples,
                         model.means))


# --- linear stability, on the samplers themselves ---------------------------------------------------------

@dataclass(frozen=True)
class StabilityTable:
    """Left ends s(π) of the real stability intervals: ``closed_form[m]`` and ``by_roots[m]`` for each method."""

    methods: tuple[str, ...]
    closed_form: dict[str, float]
    by_roots: dict[str, float]

    @property
    def worst_relative_difference(self) -> float:
        """max over methods of |closed form − root-finding| / |closed form|."""
        return max(abs(self.closed_form[m] - self.by_roots[m]) / abs(self.closed_form[m]) for m in self.methods)


def stability_table(methods: tuple[str, ...] = STABILITY_ROWS) -> StabilityTable:
    """Closed form and root-finding left ends for AB-k + HB and GHVB-k, k = 1..4, β = 1, 0.9, 0.8, 0.5."""
    return StabilityTable(tuple(methods), {m: theory.real_interval_closed_form(m) for m in methods},
                          {m: theory.real_interval_by_roots(m) for m in methods})


def test_equation_rate(method: str | Method, z: torch.Tensor, steps: int = 600, device=None) -> torch.Tensor:
    """Per-step growth of the sampler itself on u' = λu with constant δ (z = δλ), one run per entry of ``z``.

    Runs :func:`~steplab.diffusion.samplers.integrate` with δ = −1 (as on a σ grid) and λ = −z, u_0 = 1;
    rate = (max|u| over the last 50 steps / max|u| over steps N/2−50..N/2)^{1/(N/2)}: > 1 grows, < 1 decays.
    Computed on ``device`` (None: :func:`steplab.device.resolve_device` for len(z) numbers).
    """
    check_int("steps", steps, 120)
    z = torch.as_tensor(z, dtype=torch.float64)
    z = z.to(resolve_device(device, work_items=z.numel())).reshape(-1, 1)
    lam = -z  # δ = −1, so λ = −z
    grid = -torch.arange(steps + 1, dtype=torch.float64, device=z.device)
    _, path = integrate(lambda x, _t: lam * x, torch.ones_like(z), grid, method, return_path=True)
    size = path.abs()[..., 0]
    half = steps // 2
    late, early = size[-50:].amax(dim=0), size[half - 50:half].amax(dim=0)
    return (late / early) ** (1.0 / (steps - half))  # (late/early)^{1/(N − N/2)}


@dataclass(frozen=True)
class GrowthCheck:
    """The sampler's growth rate on u' = λu at (1 ± margin) × its real boundary s(π)."""

    method: str
    boundary: float
    margin: float
    rate_outside: float  # at (1 + margin)·s(π): > 1 if the closed form is right
    rate_inside: float  # at (1 − margin)·s(π): < 1


def growth_check(method: str, margin: float = 0.02, steps: int = 600, device=None) -> GrowthCheck:
    """Run the sampler on the test equation just outside and just inside its closed-form real boundary."""
    boundary = theory.real_interval_closed_form(method)
    rates = test_equation_rate(method, [(1 + margin) * boundary, (1 - margin) * boundary], steps, device)
    return GrowthCheck(method, boundary, margin, float(rates[0]), float(rates[1]))


def toy_solution(method: str | Method, steps: int = 26, t_end: float = 3.0, return_path: bool = False,
                 device=None):
    """App. C toy x' = [[0,1],[−9,−10]] x, x(0) = (−1, 0), ``steps`` steps on [0, t_end] (δλ = −27/26 at N=26)."""
    check_int("steps", steps, 1)
    f64 = dict(dtype=torch.float64, device=resolve_device(device, work_items=2))
    matrix = torch.tensor(theory.TOY_MATRIX, **f64)
    x0 = torch.tensor([theory.TOY_START], **f64)
    grid = torch.linspace(0.0, t_end, steps + 1, **f64)
    return integrate(lambda x, _t: x @ matrix.T, x0, grid, method, return_path=return_path)


@dataclass(frozen=True)
class ToyNorms:
    """‖x(t_end)‖ on the App. C toy: ``norms["exact"]`` first, then one entry per method."""

    steps: int
    t_end: float
    norms: dict[str, float]


def toy_norms(methods, steps: int = 26, t_end: float = 3.0, device=None) -> ToyNorms:
    """‖x(t_end)‖ of each method on the App. C toy, plus ``"exact"``."""
    norms = {"exact": float(theory.toy_exact(t_end).norm())}
    for name in methods:
        norms[name] = float(toy_solution(name, steps, t_end, device=device).norm())
    return ToyNorms(steps, t_end, norms)


@dataclass(frozen=True)
class ToyPaths:
    """‖x(t)‖ along the App. C toy: ``times`` [N+1] and ``norms[m]`` [N+1]; the exact curve on a fine grid."""

    times: torch.Tensor
    norms: dict[str, torch.Tensor]
    exact_times: torch.Tensor
    exact_norms: torch.Tensor


def toy_paths(methods, steps: int = 26, t_end: float = 3.0, fine: int = 200, device=None) -> ToyPaths:
    """‖x_n‖ of each method at every step of the App. C toy, and ‖x(t)‖ exactly at ``fine`` times."""
    exact_times = torch.linspace(0.0, t_end, fine, dtype=torch.float64)
    exact = torch.tensor([float(theory.toy_exact(float(s)).norm()) for s in exact_times], dtype=torch.float64)
    norms = {name: to_host(toy_solution(name, steps, t_end, return_path=True, device=device)[1].norm(dim=-1)[:, 0])
             for name in methods}
    return ToyPaths(torch.linspace(0.0, t_end, steps + 1, dtype=torch.float64), norms, exact_times, exact)


def step_eigenvalues(model, path: torch.Tensor, sigmas: torch.Tensor, labels=None, guidance: float = 0.0):
    """z_n = δ_n λ_i(∇ε̂(x̄_n, σ_n)) along a sampler path [N+1, batch, d]: real tensor [N, batch, d].

    The GMM's ε̂ Jacobian is symmetric, so its eigenvalues are real; with δ < 0 and guidance they are the
    negative-real test-equation points to compare with the real stability intervals (§2.3, App. K).
    """
    deltas = (sigmas[1:] - sigmas[:-1]).to(dtype=path.dtype, device=path.device)  # δ_n = σ_{n+1} − σ_n
    out = []
    for n in range(len(deltas)):
        jac = model.epsilon_jacobian(path[n], sigmas[n], labels, guidance)
        out.append(deltas[n] * torch.linalg.eigvalsh(jac))  # z_n = δ_n λ_i
    return torch.stack(out)


def dominant_step_eigenvalue(model, x_bar: torch.Tensor, sigma: float, delta: float, labels=None,
                             guidance: float = 0.0) -> torch.Tensor:
    """z = δ λ for each sample [batch], λ the eigenvalue of the exact ∇ε̂(x̄, σ) largest in |λ| (the step's
    test-equation point, §2.3); NaN for samples that are no longer finite (the dashboard's δλ readout)."""
    finite = torch.isfinite(x_bar).all(-1)
    z = torch.full((x_bar.shape[0],), float("nan"), dtype=x_bar.dtype, device=x_bar.device)
    if bool(finite.any()):
        lam = torch.linalg.eigvalsh(model.epsilon_jacobian(x_bar[finite], sigma, None if labels is None
                                                           else labels[finite], guidance))  # real, ascending
        largest = torch.where(lam[:, -1].abs() >= lam[:, 0].abs(), lam[:, -1], lam[:, 0])
        z[finite] = delta * largest  # z = δ λ
    return z


@dataclass(frozen=True)
class StepEigenvalues:
    """Per guidance label: ``worst[label]`` [N], the median over samples of min_i δ_n λ_i at each DDIM step;
    ``boundaries[m]``: each method's real stability boundary s(π), to compare with."""

    worst: dict[str, torch.Tensor]
    boundaries: dict[str, float]


def ring_step_eigenvalues(guidances=(0.0, 15.0), steps: int = 8, batch: int = 512, seed: int = 0,
                          methods=("ddim", "plms4", "hb3.8", "hb3.6"), device=None) -> StepEigenvalues:
    """The test-equation points along the DDIM path of the ring model, unguided (w = 0: no labels) and guided."""
    model = gmm.ring_gmm()
    device = resolve_device(device, work_items=batch * 2)
    x_T, labels = gmm.noise(batch, 2, seed=seed, device=device), gmm.balanced_labels(batch, model.classes, device)
    sigmas = sigma_grid(steps)
    worst = {}
    for w in guidances:
        class_labels = labels if w else None
        _, path = sample(model, "ddim", steps, w, x_T, class_labels, return_path=True)
        z = step_eigenvalues(model, path, sigmas, class_labels, w)
        worst[f"w = {w:g}"] = to_host(z.amin(dim=-1).median(dim=-1).values)
    return StepEigenvalues(worst, {m: theory.real_interval_closed_form(m) for m in methods})


# --- orders, identities, cross-check -------------------------------------------------------------------------

@dataclass(frozen=True)
class OrderTable:
    """Observed orders on x' = −x² + cos s (``observed[m]``) and the theory's (``expected[m]``)."""

    observed: dict[str, float]
    expected: dict[str, int]

    @property
    def worst_deviation(self) -> float:
        """max over methods of |observed − expected order|."""
        return max(abs(self.observed[m] - p) for m, p in self.expected.items())


def order_table(device=None) -> OrderTable:
    """Observed orders (N = 640 -> 1280; exact starts at N = 40..320) on x' = -x^2 + cos s."""
    with cpu_threads(1):
        observed = {m: orders.observed_order(m, device=device) for m in ORDER_EXPECTED}
        for m in EXACT_START_EXPECTED:
            observed[m + " exact start"] = orders.observed_order(m, (40, 80, 160, 320), exact_start=True,
                                                                 device=device)
    expected = ORDER_EXPECTED | {m + " exact start": p for m, p in EXACT_START_EXPECTED.items()}
    return OrderTable(observed, expected)


@dataclass(frozen=True)
class Differences:
    """``differences[name]``: how far one computation is from another (relative or absolute, see the producer)."""

    differences: dict[str, float]

    @property
    def worst(self) -> float:
        return max(self.differences.values())


def beta_one_differences(device=None) -> Differences:
    """Max relative difference of the β = 1 momentum methods from their base methods on the guided GMM."""
    model, x_T, labels = gmm_problem(batch=64, device=device)
    out = {}
    for k in (1, 2, 3, 4):
        base = sample(model, f"plms{k}", 10, 15.0, x_T, labels)
        for name in (f"ghvb{k}.0", f"hb{k}", f"nt{k}"):
            other = sample(model, name, 10, 15.0, x_T, labels)
            out[f"{name} vs plms{k}"] = float(((other - base).abs() / base.abs().clamp_min(1e-300)).max())
    base = sample(model, "dpm++", 10, 15.0, x_T, labels)
    other = sample(model, "dpm++hb1", 10, 15.0, x_T, labels)
    out["dpm++hb1 vs dpm++"] = float(((other - base).abs() / base.abs()).max())
    return Differences(out)


def diffusers_differences(steps: int = 12, dim: int = 16, batch: int = 64, guidance: float = 2.0) -> Differences:
    """Max |ours − diffusers| for DDIM, PNDM(PLMS4, Heun start) and DPM-Solver++(2M) on the same analytic ε.

    On the CPU by design: the reference is diffusers' schedulers' own CPU arithmetic."""
    model = gmm.random_gmm(dim=dim, seed=0)
    eps = model.eps_fn(gmm.balanced_labels(batch, model.classes, "cpu"), guidance)
    x_T = gmm.noise(batch, dim, seed=3, device="cpu")
    out = {}
    with cpu_threads(1):
        for method, name in crosscheck.SCHEDULERS.items():
            ours, theirs = crosscheck.compare(method, eps, x_T, steps)
            out[name] = float((ours - theirs).abs().max())
    return Differences(out)
