"""Sliders for the notebooks' "Try it" cells, made one way: every default lies exactly on its slider's grid (so
the front end never snaps it, as η = 0.05 once showed as 0.0562), and descriptions are shown in full
(``style={'description_width': 'initial'}``, no "clip_thres…").

A log slider's grid is anchored at its default and steps by ``factor`` (doubling by default: 0.05 → 0.1, 0.2, …),
so the default and the values around it read plainly; a linear slider's default must be ``low + k * step``.
"""

from __future__ import annotations

import math

from steplab.optional import require
from steplab.validation import check_range

widgets = require("ipywidgets", "the notebooks' sliders (steplab.plots.widgets)")

STYLE = {"description_width": "initial"}
TOLERANCE = 1e-9  # in grid steps: how far a default may sit from a grid point (float round-off only)


def _steps(value: float, low: float, step: float) -> float:
    return (value - low) / step


def slider(value: float, low: float, high: float, step: float, description: str) -> widgets.FloatSlider:
    """A linear slider over [low, high] in steps of ``step`` whose default ``value`` is on that grid, with as many
    decimals in its readout as ``step`` has."""
    check_range("step", step, 0.0, low_inclusive=False)
    check_range("value", value, low, high)
    k = _steps(value, low, step)
    if abs(k - round(k)) > TOLERANCE:
        raise ValueError(f"value {value!r} of slider {description!r} is not on its grid {low:g} + k * {step:g}")
    decimals = max(0, -math.floor(math.log10(step) + TOLERANCE))
    return widgets.FloatSlider(value=value, min=low, max=high, step=step, description=description, style=STYLE,
                               readout_format=f".{decimals}f")


def int_slider(value: int, low: int, high: int, step: int, description: str) -> widgets.IntSlider:
    """An integer slider whose default is ``low + k * step``."""
    check_range("value", value, low, high)
    if (value - low) % step:
        raise ValueError(f"value {value!r} of slider {description!r} is not on its grid {low} + k * {step}")
    return widgets.IntSlider(value=value, min=low, max=high, step=step, description=description, style=STYLE)


def log_slider(value: float, low: float, high: float, description: str, factor: float = 2.0) -> widgets.FloatLogSlider:
    """A log slider over about [low, high] with grid ``value * factor**k`` (k integer): the default is a grid point,
    and the ends are the grid points nearest ``low`` and ``high`` inside them."""
    check_range("value", value, low, high, low_inclusive=False)
    check_range("factor", factor, 1.0, low_inclusive=False)
    centre = math.log10(value)
    step = math.log10(factor)
    below = math.floor((centre - math.log10(low)) / step + TOLERANCE)
    above = math.floor((math.log10(high) - centre) / step + TOLERANCE)
    return widgets.FloatLogSlider(value=value, base=10, min=centre - below * step, max=centre + above * step,
                                  step=step, description=description, style=STYLE, readout_format=".3g")


def on_grid(widget) -> bool:
    """Whether ``widget``'s value is a point of its grid (a log slider's in exponent space)."""
    if isinstance(widget, widgets.FloatLogSlider):
        k = _steps(math.log(widget.value, widget.base), widget.min, widget.step)
    else:
        k = _steps(widget.value, widget.min, widget.step)
    return abs(k - round(k)) <= 1e-6
