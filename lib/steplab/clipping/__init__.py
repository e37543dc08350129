"""Family 1: gradient clipping's stochastic bias and clipping as median estimation.

Koloskova, Hendrikx, Stich, "Revisiting Gradient Clipping" (ICML 2023); Schaipp, Garrigos, Simsekli,
Gower, "SGD with Clipping is Secretly Estimating the Median Gradient" (2024).

* ``theory``: closed forms (E1 iteration counts, two-point/Exp bias roots, worst case sigma^2/(4c),
  upper bound, KHS envelope min(sigma, sigma^2/c), and the dispatcher :func:`bias_theory`);
* engines, each resumable from its result: ``simulate`` (:func:`simulate_bias`, many configurations x
  chains of clipped SGD in one tensor program, and the measured-bias window :func:`tail_window` /
  :func:`measured_bias`); ``deterministic`` (clipped GD hitting times on the quadratic (E1) and cosh (E2));
  ``median`` (the SPP median tracker m <- m + clip_tau(g - m) and Weiszfeld's geometric median, E6);
  ``robust`` (SGSG's method: mean/median-of-samples, clipped, SPP and heavy-ball SGD under heavy-tailed,
  state-dependent noise, E8);
* ``noise``: per-configuration noise laws for ``simulate_bias``;
* ``experiments``: E1-E8 as functions returning dataclasses; ``claims``: their registration in ``steplab.claims``.
"""

from steplab.clipping.deterministic import HittingTimes, cosh_hitting_times, hitting_times, quadratic_hitting_times
from steplab.clipping.median import contaminated_gradients, median_tracker, track, weiszfeld
from steplab.clipping.robust import RobustRuns, robust_sgd
from steplab.clipping.simulate import BiasResult, BiasState, measured_bias, simulate_bias, tail_window
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
    "EXP_MEDIAN_LIMIT", "BiasResult", "BiasState", "HittingTimes", "RobustRuns", "robust_sgd",
    "bias_theory", "bias_upper_bound",
    "clipped_gd_iterations", "contaminated_gradients", "cosh_hitting_times", "exp_stationary_gradient",
    "hitting_times", "khs_envelope", "measured_bias", "median_tracker", "quadratic_hitting_times", "simulate_bias",
    "tail_window", "track", "two_point_estimator_bias", "two_point_root", "two_point_stationary_gradient",
    "weiszfeld", "worst_case_bias", "worst_case_p",
]
