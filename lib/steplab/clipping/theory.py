"""Closed forms for gradient clipping: deterministic iteration counts and the stochastic bias floor.

Notation (KHS eqs. 2-3 for the clipping): clip_c(g) = min(1, c/||g||) g, noise xi with E xi = 0 and
E xi^2 = sigma^2, f(x) = (L/2) x^2 in 1-D.  The *stationary gradient* is grad f(x_bar) = L x_bar at
the root x_bar of the mean field h(x) = E clip_c(L x + xi); clipped SGD with any small step size
settles there (Koloskova, Hendrikx, Stich 2023, "KHS", abstract (ii): the bias does not vanish as eta -> 0).
Its absolute value is what the notebook calls *the bias*.  The *estimator bias* at the optimum,
h(0) = E clip_c(xi), is a different number (-0.2 vs 0.2222 for experiment E3's two-point law at c = 1).

The two-point, worst-case, upper-bound and Exp(1) formulas are our derivations, stated in each docstring
(the papers give the rate min(sigma, sigma^2/c), not these constructions); the simulations check them.

Every function takes Python numbers or tensors (broadcast together) and returns float64 tensors.
"""

from __future__ import annotations

import math

import torch

from steplab.validation import check_int, check_positive, check_range, check_threshold

Tensor = torch.Tensor


def _t(x) -> Tensor:
    return torch.as_tensor(x, dtype=torch.float64)


def _check_p(p):
    return check_range("p", p, 0.0, 1.0, low_inclusive=False, high_inclusive=False)


# ----------------------------------------------------------------------------- E1: deterministic

def clipped_gd_iterations(clip_threshold, tolerance, initial_grad_norm: float = 100.0, step_size: float = 0.25,
                          smoothness: float = 2.0) -> Tensor:
    """T(c, eps): iterations of clipped GD on f = (L/2)||x||^2 until ||grad f(x_t)|| <= eps (experiment E1).

    With G_t = ||grad f(x_t)||: G_{t+1} = G_t - eta L c while G_t > c, then G_{t+1} = (1 - eta L) G_t, so

        T(c, eps) = k* + ceil(log(G_{k*}/eps) / log(1/(1 - eta L))),  k* = ceil((G_0 - c)/(eta L c))_+,

    with G_{k*} = G_0 - k* eta L c.  Only k* depends on c, and it does not depend on eps: on this strongly
    convex quadratic clipping adds an eps-independent offset.  KHS's general (L0, L1)-smooth bound only says
    the threshold enters the higher-order terms (abstract (i)): of the shape L0 F0/eps^2 + L1 F0/eps, the
    c-term still grows as eps shrinks, just more slowly (theorem number not checked against the paper).
    ``clip_threshold = inf`` is plain GD.  Needs 0 < eta L < 1.
    """
    check_threshold("clip_threshold", clip_threshold)
    check_positive("tolerance", tolerance)
    check_positive("initial_grad_norm", initial_grad_norm)
    check_positive("smoothness", smoothness)
    check_range("step_size * smoothness", step_size * smoothness, 0.0, 1.0, low_inclusive=False,
                high_inclusive=False)
    c, eps = torch.broadcast_tensors(_t(clip_threshold), _t(tolerance))
    decrement = step_size * smoothness * c
    g0 = _t(initial_grad_norm)
    clipped_steps = torch.where(g0 > c, torch.ceil((g0 - c) / decrement), torch.zeros_like(c))
    clipped_steps = torch.nan_to_num(clipped_steps, nan=0.0)  # c = inf
    g_star = torch.where(clipped_steps > 0, g0 - clipped_steps * decrement, g0.expand_as(c))
    rate = 1.0 - step_size * smoothness
    linear_steps = torch.ceil(torch.log(g_star / eps) / math.log(1.0 / rate)).clamp(min=0)
    # tolerance reached while still clipping (eps >= G_{k*}): first t with G_0 - t eta L c <= eps
    early = torch.ceil((g0 - eps) / decrement).clamp(min=0)
    total = torch.where(g_star <= eps, torch.minimum(early, clipped_steps), clipped_steps + linear_steps)
    return torch.where(g0 <= eps, torch.zeros_like(total), total)


# ----------------------------------------------------------------------------- E3: two-point noise

def two_point_values(sigma, p) -> tuple[Tensor, Tensor]:
    """(A, B) of the two-point noise xi = +A w.p. p, -B w.p. 1-p: A = sigma/sqrt(q), B = sigma sqrt(q), q = p/(1-p)."""
    check_positive("sigma", sigma)
    _check_p(p)
    q = _t(p) / (1 - _t(p))
    return _t(sigma) / torch.sqrt(q), _t(sigma) * torch.sqrt(q)


def two_point_estimator_bias(clip_threshold, sigma, p) -> Tensor:
    """h(0) = E clip_c(xi) = p min(A, c) - (1 - p) min(B, c), exact over the two outcomes (1-D clip_c(u) =
    sign(u) min(|u|, c) at u = +A w.p. p and u = -B w.p. 1 - p)."""
    check_threshold("clip_threshold", clip_threshold)
    outlier, inlier = two_point_values(sigma, p)
    c, p = _t(clip_threshold), _t(p)
    return p * torch.minimum(outlier, c) - (1 - p) * torch.minimum(inlier, c)


def two_point_stationary_gradient(clip_threshold, sigma, p) -> Tensor:
    """grad f(x_bar) = q (A - c)_+ = (sigma sqrt(q) - c q)_+ for p < 1/2, independent of eta.

    Derivation: near the root y = L x_bar the outlier y + A is clipped to c and the inlier y - B is not, so
    h = p c + (1 - p)(y - B) = 0 gives y = B - q c = q (A - c), for c < A (for c >= A nothing is clipped: 0).

    For p > 1/2 the outlier is the negative value and the answer is mirrored, -(1/q)(B - c)_+.
    At p = 1/2 and c < sigma the mean field is flat on |grad f| <= sigma - c (iterates random-walk);
    0 is returned there.
    """
    check_threshold("clip_threshold", clip_threshold)
    outlier, inlier = two_point_values(sigma, p)
    c, p = _t(clip_threshold), _t(p)
    q = p / (1 - p)
    upper = q * torch.clamp(outlier - c, min=0)
    lower = -torch.clamp(inlier - c, min=0) / q
    return torch.where(p < 0.5, upper, torch.where(p > 0.5, lower, torch.zeros_like(upper)))


def discrete_mean_field_root(values: Tensor, weights: Tensor, clip_threshold, iterations: int = 200) -> Tensor:
    """Root y of h(y) = sum_i w_i clip_c(y + v_i) for a discrete noise law, by bisection (batched).

    ``values``/``weights`` have shape [..., n] (n support points); ``clip_threshold`` broadcasts against [...].
    h is non-decreasing and h(y) -> +-c, so the root is bracketed by [-max|v| - c, max|v| + c].
    Where h is flat at 0 the midpoint of the flat piece's bracket is returned.
    """
    check_threshold("clip_threshold", clip_threshold)
    check_int("iterations", iterations, 1)
    values, weights = _t(values), _t(weights)
    c = _t(clip_threshold).unsqueeze(-1)
    span = values.abs().amax(-1) + torch.where(torch.isinf(c[..., 0]), torch.zeros(()), c[..., 0])
    low, high = torch.broadcast_tensors(-span - 1.0, span + 1.0)
    low, high = low.clone(), high.clone()
    for _ in range(iterations):
        mid = (low + high) / 2
        h = (weights * torch.clamp(mid.unsqueeze(-1) + values, -c, c)).sum(-1)
        low = torch.where(h < 0, mid, low)
        high = torch.where(h > 0, mid, high)
        low = torch.where(h == 0, (low + mid) / 2, low)
        high = torch.where(h == 0, (high + mid) / 2, high)
    return (low + high) / 2


def two_point_root(clip_threshold, sigma, p, batch_size=1, per_sample: bool = True) -> Tensor:
    """Stationary gradient L x_bar for two-point noise, as the exact root of the mean field (1-D).

    * per-sample clipping, d = (1/b) sum_i clip_c(g_i): E d = E clip_c(g), the same root for every b;
    * batch clipping, d = clip_c((1/b) sum_i g_i): the noise is the mean of b draws, k ~ Binomial(b, p)
      outliers giving (k A - (b - k) B)/b, so the root shrinks like O(sigma^2/(b c)).
    ``batch_size`` may be an int or a tensor broadcast with the other arguments.
    """
    check_threshold("clip_threshold", clip_threshold)
    outlier, inlier = two_point_values(sigma, p)
    b_values = _t(batch_size)
    if bool((b_values < 1).any()) or bool((b_values != torch.round(b_values)).any()):
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    c, p, b, outlier, inlier = torch.broadcast_tensors(_t(clip_threshold), _t(p), b_values, outlier, inlier)
    if per_sample:
        b = torch.ones_like(b)
    n = int(b.max()) + 1
    k = torch.arange(n, dtype=torch.float64)
    bb = b.unsqueeze(-1)
    valid = k <= bb
    log_binom = torch.lgamma(bb + 1) - torch.lgamma(k + 1) - torch.lgamma((bb - k).clamp(min=0) + 1)
    log_w = log_binom + k * torch.log(p.unsqueeze(-1)) + (bb - k) * torch.log1p(-p.unsqueeze(-1))
    weights = torch.where(valid, torch.exp(log_w), torch.zeros(()))
    values = torch.where(valid, (k * outlier.unsqueeze(-1) - (bb - k) * inlier.unsqueeze(-1)) / bb, torch.zeros(()))
    # the root y of E clip(y + xi) is the stationary gradient (with the sign of L x_bar)
    return discrete_mean_field_root(values, weights, c)


def two_point_stationary_variance(clip_threshold, sigma, p, step_size) -> Tensor:
    """Var of grad f(x_t) = L x_t at stationarity for two-point noise (L = 1, p < 1/2, c < A), linearised.

    Around the root y = q (A - c) the outlier is clipped to c and the inlier y - B is not, so the clipped
    mean clipped gradient has slope h' = 1 - p there and the clipped noise (c w.p. p, y - B w.p. 1 - p) has
    variance s^2 = p (1 - p)(c - y + B)^2 = p (1 - p)(c + q c)^2 = q c^2.
    The recursion y_{t+1} - y = (1 - eta h')(y_t - y) - eta zeta_t then has the stationary variance

        v = eta s^2 / (h' (2 - eta h')) = eta q c^2 / ((1 - p)(2 - eta (1 - p))),

    the part of E||grad f||^2 that shrinks with eta (the floor y^2 does not).  NaN where c >= A or p >= 1/2.
    """
    check_threshold("clip_threshold", clip_threshold)
    check_positive("step_size", step_size)
    outlier, _ = two_point_values(sigma, p)
    c, p, eta = _t(clip_threshold), _t(p), _t(step_size)
    q, slope = p / (1 - p), 1 - p
    variance = eta * q * c**2 / (slope * (2 - eta * slope))  # eta s^2 / (h' (2 - eta h'))
    return torch.where((c < outlier) & (p < 0.5), variance, torch.full_like(variance, math.nan))


def unclipped_stationary_variance(sigma, step_size) -> Tensor:
    """Var of L x_t for plain SGD on f = x^2/2 (L = 1): eta sigma^2 / (2 - eta), from x' = (1 - eta) x - eta xi."""
    check_positive("sigma", sigma)
    check_positive("step_size", step_size)
    eta = _t(step_size)
    return eta * _t(sigma) ** 2 / (2 - eta)  # eta sigma^2 / (1 - (1 - eta)^2)


def worst_case_p(clip_threshold, sigma=1.0) -> Tensor:
    """Outlier probability of the worst two-point law for threshold c: q = sigma^2/(4c^2), p = q/(1+q), A = 2c.

    Defined for c >= sigma/2 (q <= 1); below that the worst case is p = 1/2.
    """
    check_threshold("clip_threshold", clip_threshold)
    check_positive("sigma", sigma)
    q = torch.clamp(_t(sigma) ** 2 / (4 * _t(clip_threshold) ** 2), max=1.0)
    return q / (1 + q)


def worst_case_bias(clip_threshold, sigma=1.0) -> Tensor:
    """max over two-point laws of grad f(x_bar): sigma^2/(4c) if c >= sigma/2, else sigma - c.

    Maximising sigma sqrt(q) - c q over q <= 1 gives q = sigma^2/(4c^2) (outlier A = 2c) and sigma^2/(4c);
    for c < sigma/2 the maximiser is q = 1 (p = 1/2), giving sigma - c.

    This is Theta(min(sigma, sigma^2/c)), the order of KHS's (2023) worst-case lower bound over noise laws of
    variance sigma^2 (our construction; symmetric noise has bias 0, Exp(1) - 1 far less).
    """
    check_threshold("clip_threshold", clip_threshold)
    check_positive("sigma", sigma)
    c, s = _t(clip_threshold), _t(sigma)
    return torch.where(c >= s / 2, s**2 / (4 * c), s - c)


def bias_upper_bound(clip_threshold, sigma=1.0) -> Tensor:
    """Upper bound on ||grad f|| at any root of E clip_c(g) = 0: (c - sqrt(c^2 - sigma^2))/2 for c >= sigma.

    From ||grad f|| = ||E(g - clip_c g)|| <= E(||xi|| - (c - ||grad f||))_+ <= sigma^2 / (4 (c - ||grad f||))
    (using (u - a)_+ <= u^2/(4a)). The smaller root of G (c - G) = sigma^2/4 bounds G = ||grad f||, and it is
    sigma^2/(4c) + O(sigma^4/c^3), so the worst case is tight to leading order.  NaN for c < sigma.
    """
    check_threshold("clip_threshold", clip_threshold)
    check_positive("sigma", sigma)
    c, s = _t(clip_threshold), _t(sigma)
    inside = c**2 - s**2
    bound = (c - torch.sqrt(inside.clamp(min=0))) / 2
    return torch.where(inside >= 0, bound, torch.full_like(bound, math.nan))


def khs_envelope(clip_threshold, sigma=1.0) -> Tensor:
    """min(sigma, sigma^2/c): order of the irreducible neighbourhood of clipped SGD (KHS 2023, abstract).

    The theorem number was not checked against the paper; the lower bound Omega(min(sigma, sigma^2/c)) is
    attained by :func:`worst_case_bias`.
    """
    check_threshold("clip_threshold", clip_threshold)
    check_positive("sigma", sigma)
    c, s = _t(clip_threshold), _t(sigma)
    return torch.minimum(s.expand_as(c) if c.ndim else s, s**2 / c)


# ----------------------------------------------------------------------------- E4: Exp(1) - 1 noise

def huber_location_exp(clip_threshold, iterations: int = 200) -> Tensor:
    """Huber location m(c) of Exp(1): the root of E clip_c(E - m) = 0 (experiment E4).

    m = ln(2 sinh(c)/c) when 1 - e^{-2c} >= c (both clip sides active), else m solves m = 1 - e^{-(m + c)}.
    m -> ln 2 (the median) as c -> 0 and m -> 1 (the mean) as c -> inf.
    """
    check_threshold("clip_threshold", clip_threshold)
    c = _t(clip_threshold)
    both_sides = (1 - torch.exp(-2 * c)) >= c
    safe_c = torch.where(both_sides, c, torch.ones_like(c))
    closed = torch.log(2 * torch.sinh(safe_c) / safe_c)
    low, high = torch.zeros_like(c), torch.ones_like(c)
    for _ in range(iterations):  # g(m) = m - 1 + e^{-(m+c)} is increasing, g(0) < 0 <= g(1)
        mid = (low + high) / 2
        positive = mid - 1 + torch.exp(-(mid + c)) > 0
        high = torch.where(positive, mid, high)
        low = torch.where(positive, low, mid)
    return torch.where(both_sides, closed, (low + high) / 2)


def exp_stationary_gradient(clip_threshold, sigma=1.0) -> Tensor:
    """grad f(x_bar) for xi = sigma (Exp(1) - 1): sigma (1 - m(c/sigma)) (experiment E4; the root scales with
    sigma because clip_c(s u) = s clip_{c/s}(u)).

    Interpolates between 0 (c -> inf, the mean) and sigma (1 - ln 2) = -median(xi) (c -> 0).
    """
    check_threshold("clip_threshold", clip_threshold)
    check_positive("sigma", sigma)
    s = _t(sigma)
    return s * (1 - huber_location_exp(_t(clip_threshold) / s))


EXP_MEDIAN_LIMIT = 1 - math.log(2)


# ----------------------------------------------------------------------------- relaxation time

def mean_field_slope(clip_threshold, noise, at=0.0) -> Tensor:
    """h'(y) = P(|y + xi| < c), the slope of the mean field h(y) = E clip_c(y + xi) (1-D, per-sample clipping).

    Clipped SGD with step eta relaxes to its stationary point in about 1/(eta L h') steps: for Exp(1) - 1
    noise and small c that is ~ 1/(eta c), far longer than for two-point noise (h' = 1 - p).  ``noise`` is
    a ``TwoPointNoise``, ``ExpNoise``, ``CauchyNoise`` or ``GaussianNoise``; ``at`` is y (e.g. the root).
    """
    from steplab.problems import CauchyNoise, ExpNoise, GaussianNoise, TwoPointNoise

    check_threshold("clip_threshold", clip_threshold)
    c, y = torch.broadcast_tensors(_t(clip_threshold), _t(at))
    if isinstance(noise, TwoPointNoise):
        a, b = noise.outlier, noise.inlier
        return noise.p * ((y + a).abs() < c).double() + (1 - noise.p) * ((y - b).abs() < c).double()
    if isinstance(noise, ExpNoise):  # xi = s (E - 1): P(-c - y < xi < c - y) with P(E <= u) = 1 - e^{-u}, u >= 0
        def cdf(u):
            return 1 - torch.exp(-(1 + u / noise.sigma).clamp(min=0))
        return cdf(c - y) - cdf(-c - y)
    if isinstance(noise, CauchyNoise):
        return (torch.atan((c - y) / noise.scale) - torch.atan((-c - y) / noise.scale)) / math.pi
    if isinstance(noise, GaussianNoise):
        def cdf(u):
            return 0.5 * (1 + torch.erf(u / (noise.sigma * math.sqrt(2))))
        return cdf(c - y) - cdf(-c - y)
    raise ValueError(f"mean_field_slope has no formula for noise of type {type(noise).__name__}")


# ----------------------------------------------------------------------------- dispatcher

def bias_theory(clip_threshold, noise, batch_size=1, per_sample=True) -> Tensor:
    """Predicted bias |grad f(x_bar)| of clipped SGD, per configuration (what :func:`simulate_bias` measures).

    ``noise`` is one model or a list (one per configuration) from ``steplab.problems``; arguments broadcast.
    Two-point: exact mean-field root (binomial law for batch clipping); Exp(1) - 1: the Huber root
    (per-sample clipping or b = 1; NaN for batch clipping with b > 1); symmetric laws (Gaussian, Cauchy):
    0; anything else: NaN.  The answer does not depend on the step size or on L.
    """
    from steplab.problems import CauchyNoise, ExpNoise, GaussianNoise, TwoPointNoise

    models = list(noise) if isinstance(noise, (list, tuple)) else [noise]
    c, b, ps = torch.broadcast_tensors(_t(clip_threshold).reshape(-1), _t(batch_size).reshape(-1),
                                       torch.as_tensor(per_sample).reshape(-1))
    if len(models) not in (1, c.numel()) and c.numel() != 1:
        raise ValueError(f"noise has {len(models)} models but there are {c.numel()} configurations")
    k = max(c.numel(), len(models))
    c, b, ps = c.expand(k), b.expand(k), ps.expand(k)
    models = models * k if len(models) == 1 else models
    out = torch.full((k,), math.nan, dtype=torch.float64)
    two_point = [i for i, m in enumerate(models) if isinstance(m, TwoPointNoise)]
    if two_point:  # one vectorised root computation for all two-point configurations
        idx = torch.tensor(two_point)
        sigma = _t([models[i].sigma for i in two_point])
        p = _t([models[i].p for i in two_point])
        b_eff = torch.where(ps[idx], torch.ones_like(b[idx]), b[idx])
        out[idx] = two_point_root(c[idx], sigma, p, b_eff, per_sample=False).abs()
    exp = [i for i, m in enumerate(models) if isinstance(m, ExpNoise) and (bool(ps[i]) or int(b[i]) == 1)]
    if exp:
        idx = torch.tensor(exp)
        out[idx] = exp_stationary_gradient(c[idx], _t([models[i].sigma for i in exp]))
    symmetric = [i for i, m in enumerate(models) if isinstance(m, (GaussianNoise, CauchyNoise))]
    out[torch.tensor(symmetric, dtype=torch.long)] = 0.0
    return out
