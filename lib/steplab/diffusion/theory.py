"""Closed forms of the samplers' linear stability: characteristic polynomials, boundary loci, real intervals.

Test equation u' = λu (Wizadwongsa et al. 2024, §2.3, Eqs. 10, 34–37): a method written as
A(E) x_n = δ B(E) f(x_n), E the backward shift e, is stable at z = δλ iff every root ζ = 1/e of
A(e) − z B(e) = 0 has |ζ| ≤ 1. Boundary locus (App. A.1, Lambert 1991): z = A(e)/B(e), e = e^{−iθ}.

* AB-k (Eqs. 31–33): A = 1 − e, B = Σ_j b_j e^{j+1}.
* HB on AB-k (Eqs. 40–43): A = (1 − e)(1 − (1−β)e), B = β Σ_j b_j e^{j+1}.
* Nesterov (Eq. 49): A as HB, B = β Σ_j b_j e^{j+1} (2 − β − (1−β)e).
* GHVB-k (Eqs. 44–47): A as HB, B = Σ_j g_j(β) e^{j+1} with g_j the coefficients of M_k(β) (Eqs. 17–19).

The runs of the samplers themselves on the test equation and on the App. C toy are in
:mod:`steplab.diffusion.experiments`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from numpy.polynomial import polynomial as P

from steplab.diffusion.methods import Method, ab_coefficients, ghvb_coefficients, parse_method
from steplab.validation import check_int

AB_REAL_BOUNDARY = {1: 2.0, 2: 1.0, 3: 6.0 / 11.0, 4: 0.3}  # |s(π)| of AB-k
TOY_MATRIX = ((0.0, 1.0), (-9.0, -10.0))  # App. C: x' = [[0, 1], [−9, −10]] x, eigenvalues −1, −9
TOY_START = (-1.0, 0.0)


def _shifted(coefficients: tuple[tuple[float, ...], float]) -> np.ndarray:
    """Σ_j c_j e^{j+1}/den as increasing-power coefficients in e."""
    numerators, denominator = coefficients
    return np.concatenate([[0.0], np.asarray(numerators) / denominator])


def polynomials(method: str | Method) -> tuple[np.ndarray, np.ndarray]:
    """(A, B) as increasing-power coefficient arrays in the backward shift e."""
    method = parse_method(method)
    k, beta = method.order, method.beta
    if method.family.startswith("dpm"):
        raise ValueError("the boundary locus is defined for the multistep methods (plms, hb, nt, ghvb), not DPM-Solver")
    damping = np.array([1.0, -(1.0 - beta)])  # 1 − (1−β)e
    if method.family == "plms":
        return np.array([1.0, -1.0]), _shifted(ab_coefficients(k))  # A = 1 − e, B = Σ_j b_j e^{j+1}
    a = P.polymul([1.0, -1.0], damping)  # A = (1 − e)(1 − (1−β)e)
    if method.family == "ghvb":
        return a, _shifted(ghvb_coefficients(k, beta))  # B = Σ_j g_j(β) e^{j+1}
    b = beta * _shifted(ab_coefficients(k))  # B = β Σ_j b_j e^{j+1}
    if method.family == "nt":
        b = P.polymul(b, [2.0 - beta, -(1.0 - beta)])  # B ·= 2 − β − (1−β)e
    return a, b


def boundary_locus(method: str | Method, points: int = 721) -> torch.Tensor:
    """z(θ) = A(e)/B(e), e = e^{−iθ}, θ ∈ [−π, π]: complex tensor [points] (plot Re vs Im against δλ)."""
    check_int("points", points, 3)
    a, b = polynomials(method)
    e = np.exp(-1j * np.linspace(-np.pi, np.pi, points))  # e = e^{−iθ}
    return torch.from_numpy(P.polyval(e, a) / P.polyval(e, b))  # z(θ) = A(e)/B(e)


def spectral_radius(method: str | Method, z) -> torch.Tensor:
    """max |ζ| over roots of the characteristic polynomial at each z = δλ (any shape, real or complex)."""
    a, b = polynomials(method)
    z = np.asarray(z, dtype=complex)
    size = max(len(a), len(b))
    a, b = np.pad(a, (0, size - len(a))), np.pad(b, (0, size - len(b)))
    coeffs = a[None, :] - z.reshape(-1, 1) * b[None, :]  # A(e) − z B(e): powers of e up = powers of ζ = 1/e down
    degree = size - 1
    companion = np.zeros((coeffs.shape[0], degree, degree), dtype=complex)
    companion[:, 0, :] = -coeffs[:, 1:] / coeffs[:, :1]
    companion[:, np.arange(1, degree), np.arange(degree - 1)] = 1.0
    radius = np.abs(np.linalg.eigvals(companion)).max(axis=-1)
    return torch.from_numpy(radius.reshape(z.shape))


def stable_mask(method: str | Method, real: torch.Tensor, imag: torch.Tensor, tol: float = 1e-9) -> torch.Tensor:
    """Boolean grid: is the method stable at z = real + i·imag (broadcast), i.e. spectral radius ≤ 1?"""
    z = (real.to(torch.float64) + 1j * imag.to(torch.float64)).numpy()
    return spectral_radius(method, z) <= 1.0 + tol


def real_interval_closed_form(method: str | Method) -> float:
    """Left end s(π) of the real stability interval (s(π), 0), in closed form (checked by root-finding).

    Derivation: at θ = π, e = −1 and s(π) = A(−1)/B(−1). For AB-k, A(−1) = 2 and B(−1) = −2/c_k with
    c_k = 2, 1, 6/11, 0.3; HB multiplies A by 1 − (1−β)(−1) = 2 − β and B by β, so AB-k + HB gives
    −c_k (2−β)/β. GHVB-k's B(−1) from M_k(β) gives −2(2−β)/β, −(2−β), −6(2−β)/(12−β), −3(2−β)/(11−β).
    Nesterov (and any other multistep method): A(−1)/B(−1) evaluated numerically.
    """
    method = parse_method(method)
    k, beta = method.order, method.beta
    if method.family in ("plms", "hb"):
        return -AB_REAL_BOUNDARY[k] * (2.0 - beta) / beta  # −c_k (2 − β)/β
    if method.family == "ghvb":
        return {1: -2.0 * (2.0 - beta) / beta, 2: -(2.0 - beta), 3: -6.0 * (2.0 - beta) / (12.0 - beta),
                4: -3.0 * (2.0 - beta) / (11.0 - beta)}[k]
    a, b = polynomials(method)
    return float(P.polyval(-1.0, a) / P.polyval(-1.0, b))  # s(π) = A(−1)/B(−1)


def real_interval_by_roots(method: str | Method, z_min: float = -200.0, tol: float = 1e-13) -> float:
    """Left end of the real stability interval by root-finding: scan z < 0, then bisect |ζ|_max = 1."""
    z = -np.geomspace(1e-6, -z_min, 4000)
    unstable = spectral_radius(method, z).numpy() > 1.0 + 1e-12
    if not unstable.any():
        return z_min
    first = int(np.argmax(unstable))
    lo, hi = z[first], z[first - 1] if first > 0 else 0.0  # unstable at lo, stable at hi
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if float(spectral_radius(method, np.array([mid]))[0]) > 1.0 + 1e-12:
            lo = mid
        else:
            hi = mid
        if hi - lo < tol * max(1.0, abs(hi)):
            break
    return 0.5 * (lo + hi)


@dataclass(frozen=True)
class StabilityRegions:
    """Boundary loci ``loci[m]`` (complex [points]) and stable masks ``masks[m]`` (0/1 [res, res], or None) of
    ``methods`` on the grid ``real`` × ``imag`` (meshgrids [res, res]) spanning ``xlim`` × ``ylim``."""

    methods: tuple[str, ...]
    loci: dict[str, torch.Tensor]
    masks: dict[str, torch.Tensor | None]
    real: torch.Tensor
    imag: torch.Tensor
    xlim: tuple[float, float]
    ylim: tuple[float, float]


def stability_regions(methods, xlim=(-3.2, 0.6), ylim=(-1.8, 1.8), resolution: int = 220,
                      fill: bool = True) -> StabilityRegions:
    """Each method's boundary locus and (``fill``) its stable set on a ``resolution``² grid of z = δλ."""
    check_int("resolution", resolution, 2)
    re = torch.linspace(*xlim, resolution, dtype=torch.float64)
    im = torch.linspace(*ylim, resolution, dtype=torch.float64)
    grid_re, grid_im = torch.meshgrid(re, im, indexing="xy")
    masks = {m: stable_mask(m, grid_re, grid_im).to(torch.float64) if fill else None for m in methods}
    return StabilityRegions(tuple(methods), {m: boundary_locus(m) for m in methods}, masks, grid_re, grid_im,
                            tuple(xlim), tuple(ylim))


def toy_exact(t_end: float = 3.0) -> torch.Tensor:
    """Exact x(t_end) = exp(t_end·A) x(0) of the App. C toy, shape [1, 2]."""
    matrix = torch.tensor(TOY_MATRIX, dtype=torch.float64)
    return (torch.linalg.matrix_exp(t_end * matrix) @ torch.tensor(TOY_START, dtype=torch.float64))[None]


def eigen_steps(eigenvalues, delta: float) -> torch.Tensor:
    """z = δλ for plotting eigenvalues against a region (δ the step, e.g. 3/26 on the toy)."""
    return torch.as_tensor(eigenvalues, dtype=torch.complex128) * delta


def stable_height(method: str | Method, real: float = -0.02, imag_max: float = 3.0, points: int = 3001) -> float:
    """Height of the stable set on the vertical line Re z = ``real``: the first |Im z| on a grid of ``points``
    in [0, ``imag_max``] where the method is unstable (``imag_max`` if it never is)."""
    check_int("points", points, 2)
    imag = torch.linspace(0.0, imag_max, points, dtype=torch.float64)
    unstable = (~stable_mask(method, torch.full_like(imag, real), imag)).nonzero()
    return float(imag[unstable[0, 0]]) if len(unstable) else imag_max


def applied_method(method: str | Method, step: int) -> str:
    """The method actually applied at step ``step`` (0-based) of the official warm-up: order min(k, step + 1),
    the same damping β; on step 0 the velocity starts at v_1 = e_0, so HB, Nesterov and GHVB take an Euler step.

    PLMS-k → plms{j}; HB/NT/GHVB → {family}{j−1+β} for step ≥ 1 and ``ddim`` (Euler) at step 0.
    """
    method = parse_method(method)
    if method.family.startswith("dpm"):
        raise ValueError("applied_method is defined for the multistep methods (plms, hb, nt, ghvb), not DPM-Solver")
    check_int("step", step, 0)
    order = min(method.order, step + 1)
    if method.family == "plms":
        return f"plms{order}"
    if step == 0 or method.beta == 1.0:
        return "ddim" if step == 0 else f"plms{order}"
    return f"{method.family}{order - 1 + method.beta:g}"
