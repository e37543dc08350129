"""Ghosts of softmax (Sao 2026): the convergence radius rho_a of the loss along a direction, and the
normalized step r = tau / rho_a.

Along theta + tau v the logits move with slopes a_k = grad z_k . v (one Jacobian-vector product). The
line loss -z_y + log sum_k exp(z_k(0) + a_k tau) has complex singularities; its Taylor radius is at least

    rho_a = pi / max_{x in batch} Delta_a(x; v),   Delta_a = max_k a_k - min_k a_k     (Thm 4.6, Def. 4.7),

and for two classes it equals exactly sqrt(delta^2 + pi^2) / Delta_a with logit gap delta  (Thm 4.3).
The normalized step is r = tau / rho_a (Def. 5.1); for GD, tau = eta ||grad f||.
For the linear binary model (logits (m_i, 0), m_i = y_i a_i^T theta) the linearization is exact and
Delta_a(x_i; v) = |a_i^T v|, so rho_a = pi / max_i |a_i^T v|.
"""

from __future__ import annotations

import math

import torch

from steplab.validation import check_nonnegative, check_positive

Tensor = torch.Tensor


def logit_slopes(logits_fn, params: Tensor, direction: Tensor) -> Tensor:
    """a = d/dtau logits_fn(params + tau v) at tau = 0, via one forward-mode JVP (torch.func.jvp)."""
    _, slopes = torch.func.jvp(logits_fn, (params,), (direction,))
    return slopes


def slope_spread(slopes: Tensor) -> Tensor:
    """Delta_a = max_k a_k - min_k a_k over the class dimension (last)."""
    return slopes.amax(-1) - slopes.amin(-1)


def radius_from_spread(spread: Tensor) -> Tensor:
    """rho_a = pi / Delta_a, Delta_a the largest slope spread over the batch (Sao 2026, Thm 4.6, Def. 4.7)."""
    return math.pi / spread


def spread_radius(slopes: Tensor) -> Tensor:
    """rho_a = pi / max over the batch of Delta_a: slopes [..., batch, classes] -> [...] (Sao 2026, Def. 4.7)."""
    return radius_from_spread(slope_spread(slopes).amax(-1))  # rho_a = pi / max_x (max_k a_k - min_k a_k)


def binary_exact_radius(logit_gap: Tensor, slope_gap: Tensor) -> Tensor:
    """Exact two-class radius sqrt(delta^2 + pi^2) / |Delta_a| (Sao 2026, Thm 4.3); zeros at (delta + i pi(2k+1))
    / Delta_a."""
    logit_gap = torch.as_tensor(logit_gap, dtype=torch.float64)
    slope_gap = torch.as_tensor(slope_gap, dtype=logit_gap.dtype).abs()
    return torch.sqrt(logit_gap**2 + math.pi**2) / slope_gap  # rho = sqrt(delta^2 + pi^2) / |Delta_a|


def normalized_step(step_length, radius) -> Tensor:
    """r = tau / rho_a (Sao 2026, Def. 5.1)."""
    check_nonnegative("step_length", torch.as_tensor(step_length))
    return torch.as_tensor(step_length) / torch.as_tensor(radius)  # r = tau / rho_a


def linear_spread(rows: Tensor, direction: Tensor) -> Tensor:
    """Delta_a = max_i |a_i^T v| of the linear binary model (logits (m_i, 0)) along ``direction`` v [..., d] -> [...].

    ``rows`` are the a_i [n, d] or the z_i = y_i a_i (the same |a_i^T v|); v need not be a unit vector.
    """
    return (direction @ rows.T).abs().amax(-1)  # Delta_a = max_i |a_i^T v|


def linear_normalized_step(rows: Tensor, step: Tensor) -> Tensor:
    """r of the step theta -> theta + step of the linear binary model: max_i |a_i^T step| / pi (Sao 2026, Def. 5.1
    with rho_a = pi / max_i |a_i^T v|, v = step / ||step||, so that r = ||step|| / rho_a); step [..., d] -> [...]."""
    return linear_spread(rows, step) / math.pi  # r = tau / rho_a = max_i |a_i^T (tau v)| / pi


def logistic_radius(features: Tensor, direction: Tensor) -> Tensor:
    """rho_a = pi / max_i |a_i^T v| for a unit direction v of the linear binary model; direction [..., d]."""
    unit = direction / torch.linalg.vector_norm(direction, dim=-1, keepdim=True)
    return radius_from_spread(linear_spread(features, unit))


def logistic_sample_radii(features: Tensor, labels: Tensor, theta: Tensor, direction: Tensor) -> Tensor:
    """Per-sample exact radii sqrt(m_i^2 + pi^2) / |a_i^T v| of the logistic loss (binary Thm 4.3) -> [..., n]."""
    unit = direction / torch.linalg.vector_norm(direction, dim=-1, keepdim=True)
    margin = theta @ (labels[:, None] * features).T
    return binary_exact_radius(margin, unit @ features.T)


def gd_normalized_step(features: Tensor, gradient: Tensor, step_size) -> Tensor:
    """r for the GD step -eta grad f of the linear binary model: eta max_i |a_i^T grad f| / pi (Sao eq. 18)."""
    eta = torch.as_tensor(step_size, dtype=gradient.dtype)
    check_positive("step_size", eta)
    return linear_normalized_step(features, eta[..., None] * gradient)


def cap_step_size(gradient_spread: Tensor, step_size: Tensor, r_max) -> Tensor:
    """The step size of the rho_a controller p~ = min(1, r_max rho_a / ||p||) p (Sao 2026, Prop. 5.2) for the GD step
    p = -eta grad f, given gradient_spread = max_i |a_i^T grad f|: min(eta, r_max pi / max_i |a_i^T grad f|)."""
    tiny = torch.finfo(gradient_spread.dtype).tiny
    return torch.minimum(step_size, r_max * math.pi / gradient_spread.clamp_min(tiny))  # min(eta, r_max rho_a/||g||)


def capped_step_size(features: Tensor, gradient: Tensor, step_size, r_max: float = 1.0) -> Tensor:
    """:func:`cap_step_size` from the data and the gradient (validated): min(eta, r_max pi / max_i |a_i^T grad f|)."""
    eta = torch.as_tensor(step_size, dtype=gradient.dtype)
    check_positive("step_size", eta)
    check_positive("r_max", r_max)
    return cap_step_size(linear_spread(features, gradient), eta, r_max)
