"""Argument checks shared by the whole library: clear ValueErrors that name the parameter."""

from __future__ import annotations

import math

import torch

Number = float | int | torch.Tensor


def _values(value: Number) -> list[float]:
    if isinstance(value, torch.Tensor):
        if value.device.type == "meta":  # shapes without values (steplab.device's test stand-in): nothing to check
            return []
        return [float(v) for v in value.detach().flatten().cpu().tolist()]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"expected a number or a tensor, got {type(value).__name__}")
    return [float(value)]


def check_range(
    name: str,
    value: Number,
    low: float = -math.inf,
    high: float = math.inf,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
    allow_inf: bool = False,
) -> Number:
    """Raise ``ValueError`` unless every entry of ``value`` is finite and in the interval.

    ``allow_inf=True`` also accepts ``+inf`` (when ``high`` is ``inf`` and inclusive). The message names
    the parameter and the allowed range, e.g. ``beta must be finite and in [0, 1), got 1.2``.
    """
    try:
        values = _values(value)
    except ValueError as error:
        raise ValueError(f"{name}: {error}") from None
    interval = f"{'[' if low_inclusive else '('}{_fmt(low)}, {_fmt(high)}{']' if high_inclusive else ')'}"
    inf_ok = allow_inf and high == math.inf and high_inclusive
    for v in values:
        ok_low = v >= low if low_inclusive else v > low
        ok_high = v <= high if high_inclusive else v < high
        if not ((math.isfinite(v) or (inf_ok and v == math.inf)) and ok_low and ok_high):
            raise ValueError(f"{name} must be finite and in {interval}{' or inf' if inf_ok else ''}, got {v:g}")
    return value


def check_positive(name: str, value: Number) -> Number:
    """``value > 0`` and finite (step sizes, thresholds, scales)."""
    return check_range(name, value, 0.0, math.inf, low_inclusive=False)


def check_threshold(name: str, value: Number) -> Number:
    """A clip threshold: ``value > 0``, finite or ``inf`` (``inf`` is "no clipping": min(1, inf/||g||) = 1)."""
    return check_range(name, value, 0.0, math.inf, low_inclusive=False, allow_inf=True)


def check_nonnegative(name: str, value: Number) -> Number:
    """``value >= 0`` and finite."""
    return check_range(name, value, 0.0, math.inf)


def check_int(name: str, value: int, minimum: int = 1) -> int:
    """An integer ``>= minimum`` (counts, sizes, steps)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def _fmt(x: float) -> str:
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:g}"
