"""Family 2: large-step gradient descent on separable logistic regression.

Tyurin (AAAI 2025) "From Logistic Regression to the Perceptron Algorithm"; Wu, Bartlett, Telgarsky, Yu
(COLT 2024) "Large Stepsize GD for Logistic Loss"; Sao (2026) "Ghosts of Softmax".

Modules, in the family template: ``theory`` (closed forms: the Thm 4.1 loss, the iteration bounds),
``ghosts`` (Sao's convergence radius rho_a and normalized step r), ``data`` (toys, digits pairs, margin mu and
radius R), ``metrics`` (loss, accuracy, separation time), ``algorithms`` (the engine: every method batched over
step sizes, resumable from ``History.state``), ``softmax`` (10-class softmax regression for the one-step
r-sweep), ``spike`` (Sao's learning-rate spike on a small MLP, with the rho_a controller), ``experiments`` and
``studies`` (notebook 02's experiments, each returning a dataclass), ``claims`` (the papers' statements) and
``regression_claims`` (exact values of our own runs), registered with their thresholds checked.
"""

from steplab.logistic.algorithms import METHODS, GDState, History, iterations_to_separate, run_gd, run_on
from steplab.logistic.data import (
    DATASETS,
    Dataset,
    digits_pair,
    gaussian_separable,
    imbalanced_digits,
    load,
    max_margin,
    thm41_toy,
    thm51_worst_case,
    toy,
    wu_toy,
)

__all__ = [
    "DATASETS", "METHODS", "Dataset", "GDState", "History", "digits_pair", "gaussian_separable", "imbalanced_digits",
    "iterations_to_separate", "load", "max_margin", "run_gd", "run_on", "thm41_toy", "thm51_worst_case", "toy",
    "wu_toy",
]
