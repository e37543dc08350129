"""Family 3: diffusion sampling with momentum (Wizadwongsa et al., ICLR 2024).

Entry points for notebooks and the dashboard::

    from steplab.diffusion import ring_gmm, random_gmm, sample, parse_method, boundary_locus
    model = ring_gmm()
    x, path = sample(model, "hb3.8", steps=8, guidance=15.0, x_T=noise(512, 2), class_labels=labels,
                     return_path=True)          # x [batch, d], path [N+1, batch, d]
"""

from steplab.diffusion.experiments import test_equation_rate, toy_solution
from steplab.diffusion.gmm import GaussianMixture, balanced_labels, noise, random_gmm, ring_gmm
from steplab.diffusion.methods import VALID_NAMES, Method, method_name, parse_method
from steplab.diffusion.metrics import divergence_fraction, median_error, reference_samples
from steplab.diffusion.samplers import damped_average, integrate, sample
from steplab.diffusion.schedule import alphas_cumprod, lambda_from_sigma, sigma_from_alpha_bar, sigma_grid
from steplab.diffusion.theory import (
    boundary_locus,
    real_interval_by_roots,
    real_interval_closed_form,
    spectral_radius,
    stable_mask,
)

__all__ = [
    "GaussianMixture", "Method", "VALID_NAMES", "alphas_cumprod", "balanced_labels", "boundary_locus",
    "damped_average", "divergence_fraction", "integrate", "lambda_from_sigma", "median_error", "method_name", "noise",
    "parse_method",
    "random_gmm", "real_interval_by_roots", "real_interval_closed_form", "reference_samples", "ring_gmm",
    "sample", "sigma_from_alpha_bar", "sigma_grid", "spectral_radius", "stable_mask", "test_equation_rate",
    "toy_solution",
]
