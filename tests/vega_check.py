"""A static check of a browser player's Vega spec (app_pages.browser_player): what Vega would only report in the
browser console, or not at all (a mark reading a missing data set draws nothing), caught in a unit test.

``check_player_spec(spec)`` walks the spec scope by scope (a group sees its parents' signals, scales and data
sets, and its own) and fails when an expression reads a signal that does not exist, an encoding uses a scale
that does not exist, a mark or a data set reads a data set that does not exist, a flattened row has arrays of
different lengths, or the spec is not strict JSON (NaN / Infinity break ``JSON.parse``).
"""

from __future__ import annotations

import json
import re

BUILT_IN = {"width", "height", "padding", "autosize", "background", "cursor"}
FUNCTIONS = {"now", "min", "max", "floor", "ceil", "round", "clamp", "invert", "x", "y", "format", "split", "datum",
             "null", "true", "false", "abs", "log", "exp", "pow", "sqrt", "isValid", "isFinite", "length", "item",
             "event", "scale", "toString", "PI", "if", "indexof", "slice", "join", "pluck", "span", "extent",
             "sequence", "range", "data", "lower", "upper", "pad", "replace", "truncate", "isNaN", "toNumber"}


def names_used(expression: str) -> set[str]:
    """Identifiers an expression reads (not fields after '.', not object keys before ':', not strings)."""
    code = re.sub(r"'[^']*'", "''", expression)
    code = re.sub(r"([{,]\s*)[A-Za-z_]\w*\s*:", r"\1", code)  # object keys
    return set(re.findall(r"(?<![.\w])[A-Za-z_]\w*", code)) - FUNCTIONS


def expressions(node, found: list) -> list[str]:
    """Every expression string under ``node``, not descending into nested group marks."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("update", "signal", "expr", "test") and isinstance(value, str):
                found.append(value)
            elif key != "marks" or not isinstance(value, list):
                expressions(value, found)
            else:
                for mark in value:
                    if mark.get("type") != "group":
                        expressions(mark, found)
    elif isinstance(node, list):
        for item in node:
            expressions(item, found)
    return found


def scales_used(node, found: set) -> set[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "scale" and isinstance(value, str):
                found.add(value)
            elif key == "marks" and isinstance(value, list):
                for mark in value:
                    if mark.get("type") != "group":
                        scales_used(mark, found)
            else:
                scales_used(value, found)
    elif isinstance(node, list):
        for item in node:
            scales_used(item, found)
    return found


def check_scope(node: dict, signals: set, scales: set, data: set, where: str) -> None:
    signals = signals | {s["name"] for s in node.get("signals", [])}
    scales = scales | {s["name"] for s in node.get("scales", [])}
    for d in node.get("data", []):
        assert "source" not in d or d["source"] in data, f"{where}: data {d['name']} reads missing {d['source']}"
        data = data | {d["name"]}
        for transform in d.get("transform", []):
            if transform.get("type") == "flatten":
                for row in d.get("values", []):
                    lengths = {len(row[field]) for field in transform["fields"]}
                    assert len(lengths) == 1, f"{where}: data {d['name']} row {row} flattens unequal arrays"
    own = {k: v for k, v in node.items() if k not in ("data",)}
    for expression in expressions(own, []):
        missing = names_used(expression) - signals
        assert not missing, f"{where}: {expression!r} reads missing signals {sorted(missing)}"
    for part in ("axes", "legends"):
        for item in node.get(part, []):
            for key in ("scale", "fill", "stroke", "strokeDash", "size", "shape", "opacity"):
                if key in item:
                    assert item[key] in scales, f"{where}: {part} uses missing scale {item[key]}"
    missing = scales_used({k: v for k, v in node.items() if k not in ("scales", "data")}, set()) - scales
    assert not missing, f"{where}: encodings use missing scales {sorted(missing)}"
    for i, mark in enumerate(node.get("marks", [])):
        source = mark.get("from", {})
        inner = data
        if "data" in source:
            assert source["data"] in data, f"{where}/mark {i}: reads missing data {source['data']}"
        if "facet" in source:
            assert source["facet"]["data"] in data, f"{where}/mark {i}: facets missing {source['facet']['data']}"
            inner = data | {source["facet"]["name"]}
        if mark.get("type") == "group":
            check_scope(mark, signals, scales, inner, f"{where}/{mark.get('name', i)}")


def check_player_spec(spec: dict) -> None:
    json.dumps(spec, allow_nan=False)  # raises on NaN / Infinity
    assert "data" not in spec, "Streamlit moves a top-level data away: data lives in the groups"
    check_scope(spec, set(BUILT_IN), set(), set(), "spec")
