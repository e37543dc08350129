"""Linear stability of the momentum samplers: boundary loci, real-axis intervals, test-equation runs, App C toy.

Test equation u' = λu (Wizadwongsa et al. 2024, §2.3, Eqs. 10, 34–37): a method written as
A(E) x_n = δ B(E) f(x_n), E the backward shift e, is stable at z = δλ iff every root ζ = 1/e of
A(e) − z B(e) = 0 has |ζ| ≤ 1. Boundary locus (App. A.1, Lambert 1991): z = A(e)/B(e), e = e^{−iθ}.

* AB-k (Eqs. 31–33): A = 1 − e, B = Σ_j b_j e^{j+1}.
* HB on AB-k (Eqs. 40–43): A = (1 − e)(1 − (1−β)e), B = β Σ_j b_j e^{j+1}.
* Nesterov (Eq. 49): A as HB, B = β Σ_j b_j e^{j+1} (2 − β − (1−β)e).
* GHVB-k (Eqs. 44–47): A as HB, B = Σ_j g_j(β) e^{j+1} with g_j = M_k(β) (§1.4 of the brief).
"""

from __future__ import annotations

import numpy as np
import torch
from numpy.polynomial import polynomial as P

from steplab.diffusion.methods import Method, ab_coefficients, ghvb_coefficients, parse_method
from steplab.diffusion.samplers import integrate
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
    damping = np.array([1.0, -(1.0 - beta)])
    if method.family == "plms":
        return np.array([1.0, -1.0]), _shifted(ab_coefficients(k))
    a = P.polymul([1.0, -1.0], damping)
    if method.family == "ghvb":
        return a, _shifted(ghvb_coefficients(k, beta))
    b = beta * _shifted(ab_coefficients(k))
    if method.family == "nt":
        b = P.polymul(b, [2.0 - beta, -(1.0 - beta)])
    return a, b


def boundary_locus(method: str | Method, points: int = 721) -> torch.Tensor:
    """z(θ) = A(e)/B(e), e = e^{−iθ}, θ ∈ [−π, π]: complex tensor [points] (plot Re vs Im against δλ)."""
    check_int("points", points, 3)
    a, b = polynomials(method)
    e = np.exp(-1j * np.linspace(-np.pi, np.pi, points))
    return torch.from_numpy(P.polyval(e, a) / P.polyval(e, b))


def spectral_radius(method: str | Method, z) -> torch.Tensor:
    """max |ζ| over roots of the characteristic polynomial at each z = δλ (any shape, real or complex)."""
    a, b = polynomials(method)
    z = np.asarray(z, dtype=complex)
    size = max(len(a), len(b))
    a, b = np.pad(a, (0, size - len(a))), np.pad(b, (0, size - len(b)))
    coeffs = a[None, :] - z.reshape(-1, 1) * b[None, :]  # increasing powers of e = decreasing powers of ζ
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
    """Left end of the real stability interval (s(π), 0), closed form (brief §2 table; checked by roots).

    AB-k + HB: −c_k (2−β)/β with c = 2, 1, 6/11, 0.3; GHVB: −2(2−β)/β, −(2−β), −6(2−β)/(12−β),
    −3(2−β)/(11−β); Nesterov (and any method): s(π) = A(−1)/B(−1).
    """
    method = parse_method(method)
    k, beta = method.order, method.beta
    if method.family in ("plms", "hb"):
        return -AB_REAL_BOUNDARY[k] * (2.0 - beta) / beta
    if method.family == "ghvb":
        return {1: -2.0 * (2.0 - beta) / beta, 2: -(2.0 - beta), 3: -6.0 * (2.0 - beta) / (12.0 - beta),
                4: -3.0 * (2.0 - beta) / (11.0 - beta)}[k]
    a, b = polynomials(method)
    return float(P.polyval(-1.0, a) / P.polyval(-1.0, b))


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


def test_equation_rate(method: str | Method, z: torch.Tensor, steps: int = 600) -> torch.Tensor:
    """Per-step growth of the sampler itself on u' = λu with constant δ (z = δλ), one run per entry of ``z``.

    Runs :func:`~steplab.diffusion.samplers.integrate` with δ = −1 (as on a σ grid) and λ = −z, u_0 = 1;
    rate = (max|u| over the last 50 steps / max|u| over steps N/2−50..N/2)^{1/(N/2)}: > 1 grows, < 1 decays.
    """
    check_int("steps", steps, 120)
    z = torch.as_tensor(z, dtype=torch.float64).reshape(-1, 1)
    lam = -z
    grid = -torch.arange(steps + 1, dtype=torch.float64)
    _, path = integrate(lambda x, _t: lam * x, torch.ones_like(z), grid, method, return_path=True)
    size = path.abs()[..., 0]
    half = steps // 2
    late, early = size[-50:].amax(dim=0), size[half - 50:half].amax(dim=0)
    return (late / early) ** (1.0 / (steps - half))


def toy_solution(method: str | Method, steps: int = 26, t_end: float = 3.0, return_path: bool = False):
    """App. C toy x' = [[0,1],[−9,−10]] x, x(0) = (−1, 0), ``steps`` steps on [0, t_end] (δλ = −27/26 at N=26)."""
    check_int("steps", steps, 1)
    matrix = torch.tensor(TOY_MATRIX, dtype=torch.float64)
    x0 = torch.tensor([TOY_START], dtype=torch.float64)
    grid = torch.linspace(0.0, t_end, steps + 1, dtype=torch.float64)
    return integrate(lambda x, _t: x @ matrix.T, x0, grid, method, return_path=return_path)


def toy_exact(t_end: float = 3.0) -> torch.Tensor:
    """Exact x(t_end) = exp(t_end·A) x(0) of the App. C toy, shape [1, 2]."""
    matrix = torch.tensor(TOY_MATRIX, dtype=torch.float64)
    return (torch.linalg.matrix_exp(t_end * matrix) @ torch.tensor(TOY_START, dtype=torch.float64))[None]


def toy_norms(methods, steps: int = 26, t_end: float = 3.0) -> dict[str, float]:
    """‖x(t_end)‖ of each method on the App. C toy, plus ``"exact"``."""
    norms = {"exact": float(toy_exact(t_end).norm())}
    for name in methods:
        norms[name] = float(toy_solution(name, steps, t_end).norm())
    return norms


def eigen_steps(eigenvalues, delta: float) -> torch.Tensor:
    """z = δλ for plotting eigenvalues against a region (δ the step, e.g. 3/26 on the toy)."""
    return torch.as_tensor(eigenvalues, dtype=torch.complex128) * delta


def step_eigenvalues(model, path: torch.Tensor, sigmas: torch.Tensor, labels=None, guidance: float = 0.0):
    """z_n = δ_n λ_i(∇ε̂(x̄_n, σ_n)) along a sampler path [N+1, batch, d]: real tensor [N, batch, d].

    The GMM's ε̂ Jacobian is symmetric, so its eigenvalues are real; with δ < 0 and guidance they are the
    negative-real test-equation points to compare with the real stability intervals (§2.3, App. K).
    """
    deltas = (sigmas[1:] - sigmas[:-1]).to(path.dtype)
    out = []
    for n in range(len(deltas)):
        jac = model.epsilon_jacobian(path[n], sigmas[n], labels, guidance)
        out.append(deltas[n] * torch.linalg.eigvalsh(jac))
    return torch.stack(out)


def growth_check(method: str | Method, margin: float = 0.02, steps: int = 600) -> tuple[float, float, float]:
    """(boundary, rate at (1+margin)·boundary, rate at (1−margin)·boundary) for the real interval."""
    boundary = real_interval_closed_form(method)
    rates = test_equation_rate(method, torch.tensor([(1 + margin) * boundary, (1 - margin) * boundary]), steps)
    return boundary, float(rates[0]), float(rates[1])

