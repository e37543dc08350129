"""Family 1: gradient clipping's stochastic bias and clipping as median estimation.

Koloskova, Hendrikx, Stich, "Revisiting Gradient Clipping" (ICML 2023); Schaipp, Garrigos, Simsekli,
Gower, "SGD with Clipping is Secretly Estimating the Median Gradient" (2024).

* ``theory``: closed forms (E1 iteration counts, two-point/Exp bias roots, worst case sigma^2/(4c),
  upper bound, KHS envelope min(sigma, sigma^2/c), and the dispatcher :func:`bias_theory`);
* ``simulate``: :func:`simulate_bias`, many configurations x chains of clipped SGD in one tensor program;
* ``deterministic``: clipped GD hitting times on the quadratic (E1) and cosh (E2);
* ``median``: the SPP median tracker m <- m + clip_tau(g - m) and Weiszfeld's geometric median (E6);
* ``experiments``: E1-E6 as functions; ``claims``: their registration in ``steplab.claims``.
"""

from steplab.clipping.deterministic import HittingTimes, cosh_hitting_times, hitting_times, quadratic_hitting_times
from steplab.clipping.median import contaminated_gradients, median_tracker, track, weiszfeld
from steplab.clipping.simulate import BiasResult, simulate_bias
from steplab.clipping.theory import (
    EXP_MEDIAN_LIMIT,
    bias_theory,
    bias_upper_bound,
    clipped_gd_iterations,
    exp_stationary_gradient,
    khs_envelope,
    two_point_estimator_bias,
    two_point_root,
    two_point_stationary_gradient,
    worst_case_bias,
    worst_case_p,
)

__all__ = [
    "EXP_MEDIAN_LIMIT", "BiasResult", "HittingTimes", "bias_theory", "bias_upper_bound", "clipped_gd_iterations",
    "contaminated_gradients", "cosh_hitting_times", "exp_stationary_gradient", "hitting_times", "khs_envelope",
    "median_tracker", "quadratic_hitting_times", "simulate_bias", "track", "two_point_estimator_bias",
    "two_point_root", "two_point_stationary_gradient", "weiszfeld", "worst_case_bias", "worst_case_p",
]
