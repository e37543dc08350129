"""Divergence artifacts on the trained digits denoiser: samples and metrics per sampler and step count (cached).

The paper's headline picture (Wizadwongsa et al. 2024, Fig. 1: Stable Diffusion with few steps and a high
guidance scale; PLMS4 and DPM-Solver++ make artifacts, HB/GHVB remove them) redone on 8×8 digits with the
network of :mod:`steplab.diffusion.digits_model`. Two numbers per sampler and N (each returned in a dataclass):

* **out-of-range fraction**: the share of the final x̄'s pixel values outside the data range [−1, 1] by more than
  ``OUT_OF_RANGE_MARGIN`` (a saturated pixel: black or white beyond what any training image holds). The final
  x̄ still carries noise σ_N ≈ 0.01, so the margin keeps a correct sample's background at −1 from counting.
* **accuracy**: the share of samples that a logistic-regression classifier, trained on the same 1797 digits
  (:func:`digits_classifier`), labels as the requested digit (samples clipped to [−1, 1] first).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from steplab.device import cpu_threads
from steplab.diffusion.digits_model import CLASSES, PIXELS, DigitsModel, digits_data, load_digits_model
from steplab.diffusion.gmm import balanced_labels, noise
from steplab.diffusion.samplers import sample
from steplab.validation import check_int, check_nonnegative

GRID_METHODS = ("ddim", "plms4", "dpm++", "hb3.9", "hb3.8", "ghvb3.9", "ghvb3.8", "ghvb3.5")
GRID_STEPS = (5, 8, 10, 15, 20)
GUIDANCE = 3.0  # strong for this model: the converged guided ODE already saturates ~5 % of pixel values
REFERENCE_STEPS = 100  # DDIM at N = 100: the converged solution's out-of-range fraction (the floor)
MODEL_CHECK = ("ddim", 50, 1.0)  # the model check: DDIM, N = 50, w = 1 (the plain conditional model)
OUT_OF_RANGE_MARGIN = 0.25  # |x| > 1.25 on the [−1, 1] pixel scale (2 grey levels of 16 beyond black/white)
METRIC_BATCH = 200  # 20 samples per digit
PICTURE_DIGITS = 10  # one sample of each digit per picture cell


@lru_cache(maxsize=1)
def digits_classifier():
    """A multinomial logistic regression on the 1797 digits (x0 scale; 99.6 % training accuracy, our regression
    value; about 0.1 s to fit)."""
    from sklearn.linear_model import LogisticRegression

    x0, labels = digits_data()
    return LogisticRegression(max_iter=2000, C=1.0).fit(x0.numpy(), labels.numpy())


def classify(samples: torch.Tensor) -> np.ndarray:
    """Predicted digit of each sample [B, 64] (model scale), clipped to [−1, 1] first; −1 (no digit) for a sample
    with a non-finite pixel (a diverged sample counts as misclassified)."""
    x = samples.detach().to("cpu", torch.float32)
    finite = torch.isfinite(x).all(dim=-1).numpy()
    predicted = np.full(len(x), -1, dtype=np.int64)
    if finite.any():
        predicted[finite] = digits_classifier().predict(x[torch.as_tensor(finite)].clamp(-1.0, 1.0).numpy())
    return predicted


def accuracy(samples: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of ``samples`` [B, 64] that :func:`classify` labels as the requested ``labels`` [B]."""
    return float(np.mean(classify(samples) == labels.cpu().numpy()))


def out_of_range_fraction(samples: torch.Tensor, margin: float = OUT_OF_RANGE_MARGIN) -> torch.Tensor:
    """Share of pixel values with |x| > 1 + ``margin`` per sample ([..., 64] -> [...]); NaN/inf count as out."""
    check_nonnegative("margin", margin)
    bad = ~(samples.abs() <= 1.0 + margin)  # NaN compares False, so a diverged pixel counts as out of range
    return bad.to(torch.float64).mean(dim=-1)


@dataclass
class DigitsRun:
    """One sampler at one N: final samples [B, 64] (float32, CPU), requested labels [B] and both metrics."""

    method: str
    steps: int
    guidance: float
    samples: torch.Tensor
    labels: torch.Tensor
    out_of_range: float
    accuracy: float


def run(method: str, steps: int, guidance: float = GUIDANCE, batch: int = METRIC_BATCH, seed: int = 0,
        model: DigitsModel | None = None, return_path: bool = False):
    """Sample ``batch`` digits (labels 0, 1, …, 9, 0, …) from noise ``seed`` with ``method`` in ``steps`` NFE.

    Returns a :class:`DigitsRun` (and the path [N+1, B, 64] of x̄ iterates with ``return_path=True``).
    """
    check_int("steps", steps, 1)
    check_int("batch", batch, 1)
    model = model or stored_model()
    labels = balanced_labels(batch, CLASSES, device=model.device)
    x_T = noise(batch, PIXELS, seed=seed, dtype=torch.float32, device=model.device)
    out = sample(model, method, steps, guidance=guidance, x_T=x_T, class_labels=labels, return_path=return_path)
    x, path = out if return_path else (out, None)
    x = x.cpu()
    result = DigitsRun(method, steps, float(guidance), x, labels.cpu(), float(out_of_range_fraction(x).mean()),
                       accuracy(x, labels))
    return (result, path.cpu()) if return_path else result


@lru_cache(maxsize=1)
def stored_model() -> DigitsModel:
    """The stored weights, loaded once (the notebook, the claims and the page share it)."""
    return load_digits_model()


@dataclass
class DigitsGrid:
    """Metrics per sampler × N, ``out_of_range[i, j]`` and ``accuracy[i, j]`` for methods[i], steps[j], and a
    picture: ``pictures[i, j]`` [PICTURE_DIGITS, 64], one sample of each digit (the first ones of each run)."""

    methods: tuple[str, ...]
    steps: tuple[int, ...]
    guidance: float
    batch: int
    out_of_range: np.ndarray
    accuracy: np.ndarray
    pictures: torch.Tensor
    reference_out_of_range: float
    reference_accuracy: float

    def value(self, metric: str, method: str, steps: int) -> float:
        """One cell: ``metric`` in {"out_of_range", "accuracy"}."""
        return float(getattr(self, metric)[self.methods.index(method), self.steps.index(steps)])

    def table(self) -> str:
        """A plain-text table: one row per sampler, 'out-of-range % / accuracy %' per N (rounded), then the floor."""
        rows = [f"{'sampler':<9}" + "".join(f"{'N=' + str(n):>14}" for n in self.steps)]
        for i, m in enumerate(self.methods):
            rows.append(f"{m:<9}" + "".join(f"{100 * self.out_of_range[i, j]:>7.1f}/{100 * self.accuracy[i, j]:>5.0f}%"
                                            for j in range(len(self.steps))))
        floor, floor_acc = 100 * self.reference_out_of_range, 100 * self.reference_accuracy
        rows.append(f"(out-of-range % / accuracy %, w = {self.guidance:g}, {self.batch} samples; converged: DDIM "
                    f"N = {REFERENCE_STEPS} {floor:.1f}/{floor_acc:.0f}%)")
        return "\n".join(rows)


@lru_cache(maxsize=8)
def digits_grid(methods: tuple[str, ...] = GRID_METHODS, steps: tuple[int, ...] = GRID_STEPS,
                guidance: float = GUIDANCE, batch: int = METRIC_BATCH, seed: int = 0) -> DigitsGrid:
    """Every sampler at every N on the same noise (``seed``) and labels: metrics and the picture samples."""
    out = np.zeros((len(methods), len(steps)))
    acc = np.zeros_like(out)
    pictures = torch.zeros(len(methods), len(steps), min(PICTURE_DIGITS, batch), PIXELS)
    with cpu_threads(1):
        for i, m in enumerate(methods):
            for j, n in enumerate(steps):
                r = run(m, n, guidance, batch, seed)
                out[i, j], acc[i, j] = r.out_of_range, r.accuracy
                pictures[i, j] = r.samples[:PICTURE_DIGITS]
        reference = run("ddim", REFERENCE_STEPS, guidance, batch, seed)
    return DigitsGrid(tuple(methods), tuple(steps), float(guidance), batch, out, acc, pictures,
                      reference.out_of_range, reference.accuracy)


@lru_cache(maxsize=1)
def model_check() -> DigitsRun:
    """The trained model on its own: DDIM at N = 50 with w = 1 (``MODEL_CHECK``), 200 balanced samples."""
    method, steps, guidance = MODEL_CHECK
    with cpu_threads(1):
        return run(method, steps, guidance)
