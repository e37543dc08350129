"""Naming the samplers: the momentum-number parser and the multistep coefficient tables.

Momentum number (Wizadwongsa et al. 2024, §4.2 and their configs): m = (k − 1) + β, so k = ⌈m⌉ and
β = m − (k − 1); an integer m means β = 1. "ghvb3.8" is 4th-order GHVB with β = 0.8, "hb3.8" is PLMS4
with heavy ball β = 0.8, "hb1.0" = "ghvb1" = "ddim". The parser reads the digits as text, so 3.8 gives
β = 0.8 exactly (not 3.8 % 1 = 0.7999999999999998).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from steplab.validation import check_range

MAX_ORDER = 4
FAMILIES = ("plms", "hb", "nt", "ghvb", "dpm++", "dpm++hb")
VALID_NAMES = (
    "ddim | euler | plms1..plms4 | hb<m> | nt<m> | ghvb<m> (momentum number m = (k-1)+beta in (0, 4], "
    "e.g. hb3.8 = PLMS4 + heavy ball beta=0.8, ghvb3.8 = 4th-order GHVB beta=0.8) | dpm++ | dpm++hb<beta> "
    "(beta in (0, 1], e.g. dpm++hb0.8)"
)


@dataclass(frozen=True)
class Method:
    """A sampler: ``family`` in FAMILIES, multistep ``order`` k (1..4) and damping ``beta`` in (0, 1]."""

    family: str
    order: int
    beta: float
    name: str = ""

    def __post_init__(self):
        if self.family not in FAMILIES:
            raise ValueError(f"family must be one of {', '.join(FAMILIES)}, got {self.family!r}")
        if isinstance(self.order, bool) or not isinstance(self.order, int) or not 1 <= self.order <= MAX_ORDER:
            raise ValueError(f"order must be an integer in [1, {MAX_ORDER}], got {self.order!r}")
        check_range("beta", self.beta, 0.0, 1.0, low_inclusive=False)


def _momentum_number(text: str) -> tuple[int, float]:
    match = re.fullmatch(r"(\d+)(?:\.(\d*))?", text)
    if match is None:
        raise ValueError(f"momentum number must look like 3.8 or 2, got {text!r}")
    whole, frac = int(match.group(1)), (match.group(2) or "").rstrip("0")
    order, beta = (whole, 1.0) if not frac else (whole + 1, float("0." + frac))
    if not 1 <= order <= MAX_ORDER:
        raise ValueError(f"momentum number must be in (0, {MAX_ORDER}], got {text!r}")
    return order, beta


def parse_method(name: str) -> Method:
    """The single way to name a sampler: ``"ddim"``, ``"plms4"``, ``"hb3.8"``, ``"ghvb2.5"``, ``"dpm++hb0.8"`` …

    Unknown names raise ``ValueError`` listing the valid ones; β outside (0, 1] raises ``ValueError``.
    """
    if isinstance(name, Method):
        return name
    if not isinstance(name, str):
        raise ValueError(f"method must be a string; valid: {VALID_NAMES}")
    key = re.sub(r"[\s_+]*", "", name.lower()) if not name.lower().startswith("dpm") else name.lower().replace(" ", "")
    if key in ("ddim", "euler"):
        return Method("plms", 1, 1.0, key)
    if match := re.fullmatch(r"(?:plms|ab)(\d+)", key):
        return Method("plms", _momentum_number(match.group(1))[0], 1.0, key)
    if match := re.fullmatch(r"(hb|nt|ghvb)(.+)", key):
        order, beta = _momentum_number(match.group(2))
        return Method(match.group(1), order, beta, key)
    if key in ("dpm++", "dpmsolver++", "dpm++2m"):
        return Method("dpm++", 2, 1.0, "dpm++")
    if match := re.fullmatch(r"dpm\+\+(?:2m)?(?:w/|with|\+)?hb(.+)", key):
        try:
            beta = float(match.group(1))
        except ValueError:
            raise ValueError(f"dpm++hb needs a beta in (0, 1], got {match.group(1)!r}") from None
        return Method("dpm++hb", 2, beta, key)
    raise ValueError(f"unknown method {name!r}; valid: {VALID_NAMES}")


def method_name(family: str, momentum: float) -> str:
    """Compose a parser name from a family and a momentum number m (widgets, dashboard).

    ``("hb", 3.8) -> "hb3.8"``; ``("plms", 3.8) -> "plms4"``; ``("dpm++hb", 3.8) -> "dpm++hb0.8"`` (β = frac(m));
    ``"ddim"``/``"dpm++"`` ignore m. The result always goes through :func:`parse_method`.
    """
    m = round(float(momentum), 6)
    if not 0 < m <= MAX_ORDER:
        raise ValueError(f"momentum must be in (0, {MAX_ORDER}], got {momentum!r}")
    order = max(1, math.ceil(m))
    beta = round(m - (order - 1), 6)
    if family in ("ddim", "euler", "dpm++"):
        name = family
    elif family == "plms":
        name = f"plms{order}"
    elif family in ("hb", "nt", "ghvb"):
        name = f"{family}{m:g}"
    elif family == "dpm++hb":
        name = f"dpm++hb{beta:g}"
    else:
        raise ValueError(f"family must be one of ddim, plms, hb, nt, ghvb, dpm++, dpm++hb; got {family!r}")
    parse_method(name)
    return name


def ab_coefficients(order: int) -> tuple[tuple[float, ...], float]:
    """Adams–Bashforth numerators (newest first) and denominator; AB-k = GHVB-k at β = 1 (same arithmetic)."""
    return ghvb_coefficients(order, 1.0)


def ghvb_coefficients(order: int, beta: float) -> tuple[tuple[float, ...], float]:
    """M_k(β) of GHVB (Wizadwongsa et al. 2024, Eqs. 17–19 and 63; Alg. 2 with its typos fixed), newest first.

    k=1: β;  k=2: (2+β, −(2−β))/2;  k=3: (18+5β, −(24−8β), 6−β)/12;
    k=4: (46+9β, −(78−19β), 42−5β, −(10−β))/24.  At β = 1 these are AB1..AB4.
    """
    b = float(beta)
    table = {
        1: ((b,), 1.0),
        2: ((2.0 + b, -(2.0 - b)), 2.0),
        3: ((18.0 + 5.0 * b, -(24.0 - 8.0 * b), 6.0 - b), 12.0),
        4: ((46.0 + 9.0 * b, -(78.0 - 19.0 * b), 42.0 - 5.0 * b, -(10.0 - b)), 24.0),
    }
    if order not in table:
        raise ValueError(f"order must be in [1, {MAX_ORDER}], got {order!r}")
    return table[order]
