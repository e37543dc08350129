"""The shared experiments behind the notebook, the claims and the tests (one code path, cached).

* :func:`gmm_sweep`: guided sampling of the analytic GMM (d = 64, 10 classes, w = 15; brief §4.1),
  divergence fraction and median error against a fine RK4 reference, for many methods and step counts.
* :func:`ring_experiment`: the 2-D picture, eight classes on the unit circle (s = 0.05, w = 15, N = 8).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import torch

from steplab.device import cpu_threads
from steplab.diffusion import gmm
from steplab.diffusion.metrics import divergence_fraction, median_error, reference_samples
from steplab.diffusion.samplers import sample

GMM_METHODS = ("ddim", "plms4", "hb3.9", "hb3.8", "ghvb3.8", "ghvb3.5", "ghvb2.5", "dpm++", "dpm++hb0.8")
GMM_STEPS = (8, 10, 12, 15, 20, 30)
RING_METHODS = ("ddim", "plms4", "hb3.8", "hb3.6", "ghvb3.5", "ghvb2.5")
REFERENCE_STEPS = 300  # RK4 in log σ; 250 steps already agree with 1000 to ≈1e-7


@dataclass
class Sweep:
    """Results of a sampler sweep: ``divergence[m][N]`` and ``error[m][N]`` (median ℓ2 vs reference)."""

    methods: tuple[str, ...]
    steps: tuple[int, ...]
    divergence: dict[str, dict[int, float]]
    error: dict[str, dict[int, float]]
    reference: torch.Tensor
    labels: torch.Tensor
    samples: dict[tuple[str, int], torch.Tensor]


def gmm_problem(seed: int = 0, dim: int = 64, classes: int = 10, batch: int = 400):
    """(model, x_T, labels): means from ``seed``, noise from ``seed + 1000``, balanced labels (float64)."""
    model = gmm.random_gmm(classes=classes, dim=dim, std=0.1, seed=seed)
    return model, gmm.noise(batch, dim, seed=seed + 1000), gmm.balanced_labels(batch, classes)


@lru_cache(maxsize=8)
def gmm_sweep(methods: tuple[str, ...] = GMM_METHODS, steps: tuple[int, ...] = GMM_STEPS, guidance: float = 15.0,
              seed: int = 0, dim: int = 64, classes: int = 10, batch: int = 400) -> Sweep:
    """Divergence fraction and median error of every method at every N on the analytic GMM (brief §4.1)."""
    model, x_T, labels = gmm_problem(seed, dim, classes, batch)
    with cpu_threads(1):
        reference = reference_samples(model, guidance, x_T, labels, steps=REFERENCE_STEPS)
        divergence, error, samples = {}, {}, {}
        for name in methods:
            divergence[name], error[name] = {}, {}
            for n in steps:
                x = sample(model, name, n, guidance, x_T, labels)
                samples[name, n] = x
                divergence[name][n] = float(divergence_fraction(x, reference))
                error[name][n] = float(median_error(x, reference))
    return Sweep(tuple(methods), tuple(steps), divergence, error, reference, labels, samples)


@lru_cache(maxsize=4)
def ring_experiment(methods: tuple[str, ...] = RING_METHODS, steps: int = 8, guidance: float = 15.0,
                    batch: int = 512, seed: int = 0) -> Sweep:
    """Eight classes on the unit circle (std 0.05) in 2-D, guided sampling at N = ``steps``."""
    model = gmm.ring_gmm()
    x_T, labels = gmm.noise(batch, 2, seed=seed), gmm.balanced_labels(batch, model.classes)
    with cpu_threads(1):
        reference = reference_samples(model, guidance, x_T, labels, steps=REFERENCE_STEPS)
        divergence, error, samples = {}, {}, {}
        for name in methods:
            x = sample(model, name, steps, guidance, x_T, labels)
            samples[name, steps] = x
            divergence[name] = {steps: float(divergence_fraction(x, reference))}
            error[name] = {steps: float(median_error(x, reference))}
    return Sweep(tuple(methods), (steps,), divergence, error, reference, labels, samples)
