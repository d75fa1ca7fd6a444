"""Strict JSON: NaN, Infinity and -Infinity are not JSON numbers, so wfe never takes one
in (a body, a template, a step's output, a callback's payload) nor writes one out.

Python's json module reads and writes them by default, and so does SQLite's json1; a
value that went in as ``NaN`` would come back out of the API as text that strict parsers
(JavaScript's JSON.parse, Go, jq) refuse. A literal too large for a float (``1e999``) is
Infinity in disguise and is refused the same way.
"""

from __future__ import annotations

import json
import math
from typing import Any

MESSAGE = "NaN and Infinity are not JSON numbers"


class NonFiniteNumber(ValueError):
    """A NaN or an Infinity where a JSON value was expected."""

    def __init__(self, path: str, shown: str) -> None:
        where = f" (at {path})" if path else ""
        super().__init__(f"{MESSAGE}: {shown}{where}")
        self.path = path


def _constant(name: str) -> Any:
    raise NonFiniteNumber("", name)


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise NonFiniteNumber("", text[:40])
    return value


def loads(text: str | bytes) -> Any:
    """``json.loads`` refusing NaN, Infinity and numbers beyond a float (NonFiniteNumber)."""
    return json.loads(text, parse_constant=_constant, parse_float=_float)


def dumps(value: Any, **kw: Any) -> str:
    """``json.dumps`` that raises ValueError rather than write NaN or Infinity."""
    return json.dumps(value, allow_nan=False, **kw)


def nonfinite_path(value: Any, path: str = "") -> str | None:
    """Where in ``value`` (decoded JSON, YAML, an expression's result) a NaN or an Infinity
    is, as ``a.b[2]`` (``"(value)"`` for the value itself); None when none is. Iterative:
    a deeply nested value cannot exhaust the stack."""
    stack = [(path, value)]
    while stack:
        where, v = stack.pop()
        if isinstance(v, float) and not math.isfinite(v):
            return where or "(value)"
        if isinstance(v, dict):
            stack.extend((f"{where}.{k}" if where else str(k), x) for k, x in v.items())
        elif isinstance(v, list | tuple):
            stack.extend((f"{where}[{i}]", x) for i, x in enumerate(v))
    return None


def finite_outcome(outcome: dict[str, Any]) -> dict[str, Any]:
    """A step's outcome as recorded: one that succeeded with a NaN or an Infinity in its
    output fails instead, with the place named, and the output is not stored."""
    if outcome.get("status") != "succeeded":
        return outcome
    where = nonfinite_path(outcome.get("output"), "output")
    if where is None:
        return outcome
    failed = {k: v for k, v in outcome.items() if k != "output"}
    return {**failed, "status": "failed",
            "error": f"the step's {where} is NaN or Infinity, which JSON cannot carry"}


def check_finite(value: Any, path: str = "") -> None:
    """NonFiniteNumber naming where, when ``value`` holds a NaN or an Infinity."""
    found = nonfinite_path(value, path)
    if found is not None:
        raise NonFiniteNumber(found, "a non-finite number")
