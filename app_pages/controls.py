"""Page controls mirrored in the URL: ``hide=`` lists and the share link.

Every page declares its controls as :class:`Control` specs and renders them through
:class:`Controls`, which

* restores each value on load from ``st.query_params`` (invalid text / NaN / out-of-range values fall
  back to the default with a visible warning; a number between the slider's positions moves to the nearest
  one, also with a warning), else from the page's last values in this session;
* hides the controls named in ``?hide=a,b`` (their values still come from the URL), for a cut-down
  classroom view;
* writes every value back to ``st.query_params`` after each run and shows a copy-able link.

The session-state keys it uses are spelled in :mod:`app_pages.keys`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import streamlit as st

from app_pages import keys

TRUE_WORDS = {"1", "true", "on", "yes"}
FALSE_WORDS = {"0", "false", "off", "no"}
MANTISSAS = (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0)  # a log slider's values: these x 10^k


class OffGrid(ValueError):
    """A valid number that no position of the slider shows; ``nearest`` is the closest one it does."""

    def __init__(self, message: str, nearest: Any):
        super().__init__(message)
        self.nearest = nearest


def readings(raw: str) -> list[str]:
    """The ways to read one query value: as given (stripped), and with spaces back to '+' (URL decoding turns
    a hand-typed '+' into a space: ``dpm++`` arrives as ``'dpm  '``, ``1e+3`` as ``'1e 3'``)."""
    text = str(raw)
    return list(dict.fromkeys([text.strip(), text.replace(" ", "+").strip()]))


def log_grid(low: float, high: float) -> list[float]:
    """'Nice' values (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 7, 8 x 10^k) between low and high, inclusive."""
    values = []
    for exponent in range(math.floor(math.log10(low)) - 1, math.ceil(math.log10(high)) + 1):
        for m in MANTISSAS:
            v = float(f"{m * 10.0**exponent:.6g}")
            if low * (1 - 1e-9) <= v <= high * (1 + 1e-9):
                values.append(v)
    return sorted(set(values))


@dataclass
class Control:
    """One control. ``kind``: 'float' (linear slider), 'log' (log-spaced slider), 'int', 'select', 'toggle'."""

    name: str
    label: str
    kind: str
    default: Any
    low: float | None = None
    high: float | None = None
    step: float | None = None
    options: tuple = ()
    labels: dict = field(default_factory=dict)
    help: str | None = None

    def __post_init__(self):
        if self.kind == "log":
            self.options = tuple(log_grid(self.low, self.high))
            self.default = self.snap(self.default)

    def snap(self, value: float) -> float:
        """Nearest allowed value (log grid for 'log', step grid for 'float')."""
        if self.kind == "log":
            return min(self.options, key=lambda o: abs(math.log(o) - math.log(value)))
        if self.kind == "float" and self.step:
            return round(round((value - self.low) / self.step) * self.step + self.low, 10)
        return value

    def parse(self, raw: str) -> Any:
        """Query-string text -> value; ValueError with a readable reason when invalid, :class:`OffGrid` (with
        the nearest position) for a number the slider cannot show."""
        texts = readings(raw)
        text = texts[0]
        if self.kind in ("float", "log", "int"):
            for candidate in texts:
                try:
                    value = float(candidate) if candidate.isascii() else None
                    break
                except ValueError:
                    value = None
            if value is None:
                raise ValueError(f"'{text}' is not a number" + ("" if text.isascii() else " (digits 0-9 only)"))
            if not math.isfinite(value):
                raise ValueError(f"'{text}' is not a finite number")
            if not self.low <= value <= self.high:
                raise ValueError(f"{value:g} is outside [{self.low:g}, {self.high:g}]")
            if self.kind == "int":
                if value != int(value):
                    raise ValueError(f"'{text}' is not an integer")
                value, step = int(value), int(self.step or 1)
                if (value - self.low) % step:
                    nearest = min(int(self.high), int(self.low + round((value - self.low) / step) * step))
                    raise OffGrid(f"{value} is not a position of the slider (steps of {step} from "
                                  f"{self.low:g}); using the nearest, {nearest}", nearest)
                return value
            nearest = self.snap(value)
            if not math.isclose(nearest, value, rel_tol=1e-9, abs_tol=1e-12):
                where = (f"steps of {self.step:g} from {self.low:g}" if self.kind == "float"
                         else f"values {', '.join(f'{m:g}' for m in MANTISSAS)} × 10ᵏ")
                raise OffGrid(f"{value:g} is not a position of the slider ({where}); using the nearest, "
                              f"{self.serialize(nearest)}", nearest)
            return nearest
        if self.kind == "select":
            match = next((t for t in texts if t in self.options), None)
            if match is None:
                raise ValueError(f"'{text}' is not one of {', '.join(map(str, self.options))}")
            return match
        if self.kind == "toggle":
            if text.lower() in TRUE_WORDS:
                return True
            if text.lower() in FALSE_WORDS:
                return False
            raise ValueError(f"'{text}' is not on/off")
        raise ValueError(f"unknown control kind {self.kind!r}")

    def serialize(self, value: Any) -> str:
        if self.kind == "toggle":
            return "1" if value else "0"
        if self.kind in ("float", "log"):
            return f"{value:g}"
        return str(value)

    def widget(self, key: str, disabled: bool = False, container=None):
        box = container or st
        if self.kind == "float":
            return box.slider(self.label, float(self.low), float(self.high), step=float(self.step), key=key,
                              help=self.help, disabled=disabled)
        if self.kind == "log":
            return box.select_slider(self.label, options=list(self.options), key=key, help=self.help,
                                     format_func=lambda v: f"{v:g}", disabled=disabled)
        if self.kind == "int":
            return box.slider(self.label, int(self.low), int(self.high), step=int(self.step or 1), key=key,
                              help=self.help, disabled=disabled)
        if self.kind == "select":
            return box.selectbox(self.label, list(self.options), key=key, help=self.help, disabled=disabled,
                                 format_func=lambda o: self.labels.get(o, str(o)))
        if self.kind == "toggle":
            return box.toggle(self.label, key=key, help=self.help, disabled=disabled)
        raise ValueError(f"unknown control kind {self.kind!r}")


def parse_hide(raw_values: list[str]) -> set[str]:
    names = set()
    for raw in raw_values:
        names.update(part.strip() for part in raw.split(",") if part.strip())
    return names


class Controls:
    """The controls of one page, restored from the URL, rendered in the sidebar, mirrored back."""

    def __init__(self, page: str, specs: list[Control]):
        self.page = page
        self.specs = {spec.name: spec for spec in specs}
        self.values: dict[str, Any] = {}
        saved = st.session_state.setdefault(keys.saved(page), {})
        fresh = not any(self.key(name) in st.session_state for name in self.specs)
        self.url: dict[str, str] = {}  # the query parameters this page was opened with (fresh visits only)
        if fresh:
            self.url = current_params()
            written = st.session_state.get(keys.QP_WRITTEN)
            if written and written[0] != page and written[1] == self.url:
                self.url = {}  # left over from another page (a page switch may keep the query string)
            self.hidden = parse_hide(self.url.get("hide", "").split(";")) & set(self.specs)
            st.session_state[keys.hidden(page)] = self.hidden
            warnings = []
            for name, spec in self.specs.items():
                value = saved.get(name, spec.default)
                if name in self.url:
                    try:
                        value = spec.parse(self.url[name])
                    except OffGrid as error:  # a valid value moved to the slider: said, not "invalid"
                        warnings.append(f"Link parameter `{name}`: {error}.")
                        value = error.nearest
                    except ValueError as error:
                        warnings.append(f"Invalid link parameter `{name}`: {error}; using the default "
                                        f"{spec.serialize(spec.default)}.")
                        value = spec.default
                st.session_state[self.key(name)] = value
            unknown = parse_hide(self.url.get("hide", "").split(";")) - set(self.specs)
            if unknown:
                warnings.append(f"Invalid link parameter `hide`: no control named {', '.join(sorted(unknown))} "
                                "on this page.")
            st.session_state[keys.warnings(page)] = warnings
        self.hidden = st.session_state.get(keys.hidden(page), set())
        for name in self.hidden:  # hidden controls keep their value in a plain (non-widget) key
            self.values[name] = st.session_state[self.key(name)]

    def key(self, name: str) -> str:
        return keys.widget(self.page, name)

    def show_warnings(self) -> None:
        for warning in st.session_state.get(keys.warnings(self.page), []):
            st.warning(warning, icon=":material/warning:")

    def __call__(self, name: str, disabled: bool = False, container=None) -> Any:
        """Render control ``name`` (unless hidden) and return its value."""
        if name in self.hidden:
            return self.values[name]
        value = self.specs[name].widget(self.key(name), disabled=disabled, container=container or st.sidebar)
        self.values[name] = value
        return value

    def params(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        params = {name: self.specs[name].serialize(v) for name, v in self.values.items()}
        params.update({k: v for k, v in (extra or {}).items() if v})
        if self.hidden:
            params["hide"] = ",".join(sorted(self.hidden))
        return params

    def finish(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """Mirror the values (plus page-specific ``extra`` params) to the URL; show the share box."""
        st.session_state[keys.saved(self.page)] = dict(self.values)
        params = self.params(extra)
        if current_params() != params:
            st.query_params.from_dict(params)
        st.session_state[keys.QP_WRITTEN] = (self.page, params)
        with st.sidebar.expander("Share this view", expanded=False, icon=":material/link:"):
            st.code(share_url(params), language=None, wrap_lines=True)
            st.caption("Copy with the icon on the right. Add `&hide=eta,beta` to hide controls (classroom view).")
        return params


def current_params() -> dict[str, str]:
    """The URL's query parameters as plain strings (repeated keys joined with ';')."""
    return {key: ";".join(st.query_params.get_all(key)) for key in st.query_params}


def share_url(params: dict[str, str], url: str | None = None) -> str:
    """The link to this view: the page's address (``st.context.url`` unless given) with ``params``; the
    home page's address has an empty path, which becomes "/" (``http://host:8501/?eta=…``)."""
    if url is None:
        try:
            url = st.context.url or ""
        except Exception:  # noqa: BLE001 - not available outside a browser session
            url = ""
    if not url:
        url = "http://localhost:8501/"
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path or '/'}?{urlencode(params, safe=',')}"
