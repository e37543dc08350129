"""A registry of the papers' claims: one code path from paper statement to notebook number to test.

A claim has an id ``family.short_name``, the paper and theorem/figure it comes from, a
one-sentence statement, and a function that runs the experiment and returns a :class:`Result`
(expected vs measured, passed). Family modules register their claims at import time::

    @register("tour.gd_diverges", paper="Goh 2017; d2l 12.6", source="Sec. 'momentum'",
              statement="GD at eta=0.6 diverges on 0.1x1^2 + 2x2^2")
    def _gd_diverges() -> Result: ...

``python -m steplab.verify [family]`` prints the table; ``tests/test_claims.py`` runs them all;
each notebook ends with ``claims.table(family)``, shown as an HTML table (plain text when printed).

A paper statement that our runs do not reproduce is registered with ``reproduced=False``: its check
asserts what we measured instead (a band that must hold on every machine), and the table shows it as
"not reproduced here", never as a tick.

Expected/measured texts say what the check asserts (counts against bands, booleans, values rounded to
their tolerance), never raw chaotic values: they are printed by checked notebook cells and must read
the same on every machine.
"""

from __future__ import annotations

import html
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
    reproduced: bool = True

    @property
    def family(self) -> str:
        return self.id.split(".", 1)[0]


@dataclass
class Outcome:
    claim: Claim
    result: Result
    seconds: float


_REGISTRY: dict[str, Claim] = {}


NOT_REPRODUCED = "not reproduced here"


def yes(condition: bool) -> str:
    """A band check as a claim's measured text prints it: ``'yes'`` or ``'NO'``."""
    return "yes" if condition else "NO"


@dataclass(frozen=True)
class Check:
    """One condition of a claim, written once: the test and both of its display texts come from the same numbers.

    Build them with :func:`close`, :func:`between` and :func:`count_between`; :func:`combine` joins several
    into the claim's :class:`Result`.
    """

    expected: str
    measured: str
    passed: bool


def close(label: str, value: float, target: float, tolerance: float, fmt: str = ".4g",
          show_value: bool = True) -> Check:
    """|value - target| <= tolerance. ``show_value=False`` prints only whether it holds (for chaotic values)."""
    passed = bool(abs(value - target) <= tolerance)
    expected = f"{label} = {target:{fmt}} ± {tolerance:.1g}"
    measured = f"{label} = {value:{fmt}}" if show_value else f"{label} within ± {tolerance:.1g}: {yes(passed)}"
    return Check(expected, measured, passed)


def between(label: str, value: float, low: float | None = None, high: float | None = None, fmt: str = ".3g",
            show_value: bool = True) -> Check:
    """low < value < high (either side may be None). ``show_value=False``: print only whether it holds."""
    if low is None and high is None:
        raise ValueError("between needs a lower or an upper bound")
    passed = (low is None or value > low) and (high is None or value < high)
    if low is not None and high is not None:
        band = f"{label} in ({low:{fmt}}, {high:{fmt}})"
    elif low is not None:
        band = f"{label} > {low:{fmt}}"
    else:
        band = f"{label} < {high:{fmt}}"
    measured = f"{label} = {value:{fmt}}" if show_value else f"{band}: {yes(passed)}"
    return Check(band, measured, bool(passed))


def count_between(label: str, count: int, total: int, low: int | None = None, high: int | None = None) -> Check:
    """A count of successes out of ``total`` against an inclusive band, printed as the band (machine-independent)."""
    if low is None and high is None:
        raise ValueError("count_between needs a lower or an upper bound")
    passed = (low is None or count >= low) and (high is None or count <= high)
    parts = ([f">= {low}/{total}"] if low is not None else []) + ([f"<= {high}/{total}"] if high is not None else [])
    band = f"{label} {' and '.join(parts)}"
    return Check(band, f"{band}: {yes(passed)}", bool(passed))


def combine(*checks: Check, **details) -> Result:
    """The claim's :class:`Result`: every check must hold; texts joined with '; '."""
    return Result("; ".join(c.expected for c in checks), "; ".join(c.measured for c in checks),
                  all(c.passed for c in checks), dict(details))


def within(value: float, tolerance: float) -> str:
    """A round-off-sized error as a claim prints it: ``'<= 1e-05'`` when it is within ``tolerance`` (the same
    text on every machine, whatever the last bits), else the value itself, so that a failure shows its size."""
    return f"<= {tolerance:.0e}" if value <= tolerance else f"{value:.1e} (> {tolerance:.0e})"


def register(claim_id: str, *, paper: str, source: str, statement: str, reproduced: bool = True):
    """Decorator registering ``fn() -> Result`` as the check of claim ``claim_id``.

    ``reproduced=False``: the paper's ``statement`` does not hold in our runs; ``fn`` checks what we
    measured instead (its ``expected`` is our band), and the claim is shown as "not reproduced here".
    """
    if "." not in claim_id:
        raise ValueError(f"claim id must look like 'family.short_name', got {claim_id!r}")

    def decorator(fn: Callable[[], Result]) -> Callable[[], Result]:
        _REGISTRY[claim_id] = Claim(claim_id, paper, source, statement, fn, reproduced)
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


def mark(outcome: Outcome) -> str:
    """✓ (verified), ✗ (the check failed), or "not reproduced here" (our measured band held, the paper's didn't)."""
    if not outcome.result.passed:
        return "✗"
    return "✓" if outcome.claim.reproduced else NOT_REPRODUCED


def report(claim_id: str) -> str:
    """One claim, checked, as a notebook cell prints it: its mark (:func:`mark`), then each condition's expected
    and measured text on its own line (bands and booleans: the same on every machine)."""
    outcome = check(claim_id)
    pairs = zip(outcome.result.expected.split("; "), outcome.result.measured.split("; "))
    return "\n".join([f"{claim_id}: {mark(outcome)}"] + [f"  expected {e:<52} measured {m}" for e, m in pairs])


def summary(outcomes: list[Outcome]) -> str:
    """``'9/10 claims verified, 1 not reproduced here'`` (and how many checks failed, if any)."""
    verified = sum(o.result.passed and o.claim.reproduced for o in outcomes)
    not_reproduced = sum(o.result.passed and not o.claim.reproduced for o in outcomes)
    failed = sum(not o.result.passed for o in outcomes)
    text = f"{verified}/{len(outcomes)} claims verified"
    if not_reproduced:
        text += f", {not_reproduced} {NOT_REPRODUCED}"
    if failed:
        text += f", {failed} failed"
    return text


def format_table(outcomes: list[Outcome], show_seconds: bool = True) -> str:
    """A plain-text table: id, statement, expected, measured, mark (see :func:`mark`), seconds."""
    headers = ["id", "statement", "expected", "measured", "ok"] + (["s"] if show_seconds else [])
    rows = []
    for o in outcomes:
        row = [o.claim.id, o.claim.statement, o.result.expected, o.result.measured, mark(o)]
        if show_seconds:
            row.append(f"{o.seconds:.1f}")
        rows.append(row)
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    widths[1] = min(widths[1], 60)

    def fmt(row):
        cells = [str(c) if i != 1 or len(str(c)) <= 60 else str(c)[:57] + "..." for i, c in enumerate(row)]
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()

    lines = [fmt(headers), "  ".join("-" * w for w in widths)] + [fmt(r) for r in rows]
    lines.append(summary(outcomes))
    return "\n".join(lines)


# the mark's colour in the HTML table (inline styles: JupyterLab's sanitizer keeps them, no stylesheet needed)
_MARK_STYLE = {"✓": "color:#1a7f37", "✗": "color:#cf222e", NOT_REPRODUCED: "color:#9a6700"}
_CELL = "text-align:left;vertical-align:top;padding:2px 8px"


def format_html(outcomes: list[Outcome]) -> str:
    """The table as HTML for a notebook (id, statement with its paper and source, expected, measured, mark),
    each condition of a claim on its own line, every text escaped; the summary line below it. No timings, so
    that it reads the same on every machine."""
    def cell(content: str, style: str = "") -> str:
        return f'<td style="{_CELL};{style}">{content}</td>'

    def lines(text: str) -> str:
        return "<br>".join(html.escape(part) for part in text.split("; "))

    head = "".join(f'<th style="{_CELL}">{h}</th>' for h in ("id", "statement", "expected", "measured", "ok"))
    rows = []
    for o in outcomes:
        where = html.escape(f"{o.claim.paper}, {o.claim.source}")
        rows.append("<tr>" + cell(f"<code>{html.escape(o.claim.id)}</code>")
                    + cell(f'{html.escape(o.claim.statement)}<br><small style="color:#57606a">{where}</small>')
                    + cell(lines(o.result.expected)) + cell(lines(o.result.measured))
                    + cell(f"<b>{html.escape(mark(o))}</b>", _MARK_STYLE[mark(o)] + ";white-space:nowrap") + "</tr>")
    return (f'<table class="steplab-claims"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
            f"<p>{html.escape(summary(outcomes))}</p>")


@dataclass(repr=False)
class Table:
    """The checked claims of a notebook: plain text where text is shown (``print``, a terminal, nbval's
    text/plain), an HTML table where a notebook renders HTML (``_repr_html_``)."""

    outcomes: list[Outcome]
    show_seconds: bool = False

    def __str__(self) -> str:
        return format_table(self.outcomes, show_seconds=self.show_seconds)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        return format_html(self.outcomes)


def table(family: str | None = None, show_seconds: bool = False) -> Table:
    """Run the claims of ``family``: the table at the end of each notebook (``print`` it for plain text)."""
    return Table(run_all(family), show_seconds=show_seconds)
