"""A run's input checked against the template's variables, with defaults filled in."""

from __future__ import annotations

import copy
import json
import math
import re
from typing import TYPE_CHECKING, Any

from wfe.errors import ValidationFailed

if TYPE_CHECKING:  # spec imports this module; the models are only needed for type hints
    from wfe.engine.spec import Variable

_INTEGER = re.compile(r"[+-]?\d+")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
# The one table of words read as booleans, any case: run inputs (from the CLI's -i and from
# API clients), settings (config.toml, WFE_*) and the CLI's boolean options all read it.
BOOLEAN_WORDS = {"true": True, "yes": True, "on": True, "1": True,
                 "false": False, "no": False, "off": False, "0": False}  # fmt: skip
BOOLEAN_HINT = "true/false, yes/no, on/off or 1/0"


def parse_boolean(value: Any) -> bool:
    """A JSON (or TOML) boolean, the numbers 1 and 0, or a word of ``BOOLEAN_WORDS``;
    ValueError naming what was given for anything else."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in BOOLEAN_WORDS:
        return BOOLEAN_WORDS[value.strip().lower()]
    raise ValueError(f"expected a boolean ({BOOLEAN_HINT}), got {_shown(value)}")


def coerce_value(
    type_: str, value: Any, values: list[Any] | None = None, *, from_text: bool = True
) -> Any:
    """``value`` as a ``type_``, or ValueError saying what was expected.

    With ``from_text`` a string is read as the type (the CLI sends ``-i n=3`` as "3");
    template defaults are checked without it, since YAML already gives them their type.
    """
    text = value.strip() if from_text and isinstance(value, str) else None
    if type_ == "string":
        if not isinstance(value, str):
            raise ValueError(f"expected a string, got {_kind(value)}")
        if "\0" in value:  # it could not reach a step: no environment holds a NUL byte
            raise ValueError("must not contain a NUL byte")
        return value
    if type_ == "integer":
        return _integer(value, text)
    if type_ == "number":
        return _number(value, text)
    if type_ == "boolean":
        return _boolean(value, from_text)
    if type_ in ("object", "array"):
        return _json(type_, value, text)
    if type_ == "enum":
        return _enum(value, values or [], from_text)
    raise ValueError(f"unknown type {type_!r}")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            dict: "an object", list: "an array"}.get(type(value), type(value).__name__)


def _integer(value: Any, text: str | None) -> int:
    if text is not None and _INTEGER.fullmatch(text):
        return int(text)
    # bool is an int subclass; true is not 1 here.
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise ValueError(f"expected an integer, got {_shown(value)}")


def _number(value: Any, text: str | None) -> int | float:
    if text is not None and _NUMBER.fullmatch(text):
        number = float(text)
        return int(number) if _INTEGER.fullmatch(text) else number
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("expected a finite number")
        return value
    raise ValueError(f"expected a number, got {_shown(value)}")


def _boolean(value: Any, from_text: bool) -> bool:
    if not from_text and not isinstance(value, bool):  # a default: YAML has typed it already
        raise ValueError(f"expected a boolean, got {_shown(value)}")
    return parse_boolean(value)


def _json(type_: str, value: Any, text: str | None) -> Any:
    wanted, article = (dict, "an object") if type_ == "object" else (list, "an array")
    if text is not None:
        try:
            value = json.loads(text)
        except json.JSONDecodeError as e:
            problem = f"{e.msg} at column {e.colno}"
            raise ValueError(f"expected {article} as JSON text: {problem}") from None
    if not isinstance(value, wanted):
        raise ValueError(f"expected {article}, got {_kind(value)}")
    return value


def _enum(value: Any, values: list[Any], from_text: bool) -> Any:
    if any(value == v and type(value) is type(v) for v in values):
        return value
    # "-i level=2" arrives as "2" even when the choices are numbers.
    if from_text and isinstance(value, str):
        for choice in values:
            if not isinstance(choice, str) and _text_of(choice) == value.strip():
                return choice
    raise ValueError(f"must be one of: {', '.join(_text_of(v) for v in values)}")


def _text_of(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return repr(value) if len(value) <= 40 else repr(value[:40]) + "..."
    return _kind(value)


def validate_inputs(variables: dict[str, Variable], given: Any) -> dict[str, Any]:
    """Every declared variable's value, or one ValidationFailed listing every problem."""
    if given is None:
        given = {}
    if not isinstance(given, dict):
        raise ValidationFailed("invalid input", [{"path": "input", "message": "must be an object"}])
    details: list[dict[str, str]] = []
    for name in given:
        if name not in variables:
            known = ", ".join(variables)
            message = f"unknown variable; expected one of: {known}" if known else (
                "unknown variable; this template takes no input"
            )
            details.append({"path": f"input.{name}", "message": message})
    out: dict[str, Any] = {}
    for name, var in variables.items():
        # null means "not given": the CLI and JSON clients use it to ask for the default.
        if given.get(name) is not None:
            try:
                out[name] = coerce_value(var.type, given[name], var.values)
            except ValueError as e:
                details.append({"path": f"input.{name}", "message": str(e)})
        elif var.is_required:
            details.append({"path": f"input.{name}", "message": "required"})
        else:
            # A default is a value in the template: a run must not be able to change it.
            out[name] = copy.deepcopy(var.default)
    if details:
        raise ValidationFailed("invalid input", details)
    return out
