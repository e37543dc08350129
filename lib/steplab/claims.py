"""A registry of the papers' claims: one code path from paper statement to notebook number to test.

A claim has an id ``family.short_name``, the paper and theorem/figure it comes from, a
one-sentence statement, and a function that runs the experiment and returns a :class:`Result`
(expected vs measured, passed). Family modules register their claims at import time::

    @register("tour.gd_diverges", paper="Goh 2017; d2l 12.6", source="Sec. 'momentum'",
              statement="GD at eta=0.6 diverges on 0.1x1^2 + 2x2^2")
    def _gd_diverges() -> Result: ...

``python -m steplab.verify [family]`` prints the table; ``tests/test_claims.py`` runs them all;
each notebook ends with ``claims.table(family)``.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

# family -> module that registers its claims when imported
CLAIM_MODULES = {
    "tour": "steplab.tour",
    "clipping": "steplab.clipping.claims",
    "logistic": "steplab.logistic.claims",
    "diffusion": "steplab.diffusion.claims",
    "rnn": "steplab.rnn.claims",
}


@dataclass
class Result:
    """What a claim's experiment found. ``expected``/``measured`` are short display strings."""

    expected: str
    measured: str
    passed: bool
    details: dict = field(default_factory=dict)


@dataclass
class Claim:
    id: str
    paper: str
    source: str
    statement: str
    check: Callable[[], Result]

    @property
    def family(self) -> str:
        return self.id.split(".", 1)[0]


@dataclass
class Outcome:
    claim: Claim
    result: Result
    seconds: float


_REGISTRY: dict[str, Claim] = {}


def register(claim_id: str, *, paper: str, source: str, statement: str):
    """Decorator registering ``fn() -> Result`` as the check of claim ``claim_id``."""
    if "." not in claim_id:
        raise ValueError(f"claim id must look like 'family.short_name', got {claim_id!r}")

    def decorator(fn: Callable[[], Result]) -> Callable[[], Result]:
        _REGISTRY[claim_id] = Claim(claim_id, paper, source, statement, fn)
        return fn

    return decorator


def load(family: str | None = None) -> list[str]:
    """Import the claim modules (all families, or one); return the families that are available."""
    if family is not None and family not in CLAIM_MODULES:
        raise ValueError(f"unknown family {family!r}; valid: {', '.join(CLAIM_MODULES)}")
    available = []
    for name, module in CLAIM_MODULES.items():
        if family is not None and name != family:
            continue
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as error:
            if error.name is not None and module.startswith(error.name):
                continue  # this family is not built yet
            raise
        available.append(name)
    return available


def all_claims(family: str | None = None) -> list[Claim]:
    """Registered claims (of one family, or all), in registration order."""
    load(family)
    return [c for c in _REGISTRY.values() if family is None or c.family == family]


def get(claim_id: str) -> Claim:
    load(claim_id.split(".", 1)[0] if claim_id.split(".", 1)[0] in CLAIM_MODULES else None)
    if claim_id not in _REGISTRY:
        raise KeyError(f"no claim {claim_id!r}; registered: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[claim_id]


def check(claim_id: str) -> Outcome:
    """Run one claim's experiment and time it."""
    claim = get(claim_id)
    start = time.perf_counter()
    result = claim.check()
    return Outcome(claim, result, time.perf_counter() - start)


def run_all(family: str | None = None, on_progress: Callable[[int, int, Claim], None] | None = None):
    """Run every claim (of a family); ``on_progress(i, n, claim)`` is called before each."""
    claims = all_claims(family)
    outcomes = []
    for i, claim in enumerate(claims):
        if on_progress is not None:
            on_progress(i, len(claims), claim)
        outcomes.append(check(claim.id))
    return outcomes


def format_table(outcomes: list[Outcome], show_seconds: bool = True) -> str:
    """A plain-text table: id, statement, expected, measured, pass mark, seconds."""
    headers = ["id", "statement", "expected", "measured", "ok"] + (["s"] if show_seconds else [])
    rows = []
    for o in outcomes:
        row = [o.claim.id, o.claim.statement, o.result.expected, o.result.measured,
               "✓" if o.result.passed else "✗"]
        if show_seconds:
            row.append(f"{o.seconds:.1f}")
        rows.append(row)
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    widths[1] = min(widths[1], 60)

    def fmt(row):
        cells = [str(c) if i != 1 or len(str(c)) <= 60 else str(c)[:57] + "..." for i, c in enumerate(row)]
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()

    lines = [fmt(headers), "  ".join("-" * w for w in widths)] + [fmt(r) for r in rows]
    passed = sum(o.result.passed for o in outcomes)
    lines.append(f"{passed}/{len(outcomes)} claims verified")
    return "\n".join(lines)


def table(family: str | None = None, show_seconds: bool = False) -> str:
    """Run the claims of ``family`` and return the table (for the end of each notebook)."""
    return format_table(run_all(family), show_seconds=show_seconds)
