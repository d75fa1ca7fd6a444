"""A template's source with its syntax marked, and its variables as form fields.

The highlighter is a few patterns over the YAML ``yaml.safe_dump`` writes (keys, strings,
numbers, ``${{ }}`` expressions, comments): enough to read a template, no library to ship.
"""

from __future__ import annotations

import re
from typing import Any

from markupsafe import Markup, escape

_LINE = re.compile(r"^(\s*(?:- )*)([^\s:#'\"][^:#]*?|'[^']*'|\"[^\"]*\")(:)(\s|$)(.*)$")
_EXPR = re.compile(r"(\$\{\{.*?\}\})")
_SCALAR = re.compile(r"^(-?\d+(?:\.\d+)?|true|false|null|~)$")


def _value(text: str) -> Markup:
    stripped = text.strip()
    if stripped.startswith("#"):
        return Markup('<span class="hl-c">{}</span>').format(text)
    if _SCALAR.match(stripped):
        return Markup('<span class="hl-n">{}</span>').format(text)
    parts = _EXPR.split(text)
    out = Markup("")
    for i, part in enumerate(parts):
        if i % 2:
            out += Markup('<span class="hl-e">{}</span>').format(part)
        elif part:
            out += Markup('<span class="hl-s">{}</span>').format(part)
    return out


def yaml_html(source: str) -> Markup:
    lines = []
    for line in source.splitlines():
        m = _LINE.match(line)
        if m:
            indent, key, colon, space, rest = m.groups()
            lines.append(escape(indent) + Markup('<span class="hl-k">{}</span>').format(key)
                         + escape(colon + space) + _value(rest))
        else:
            lead = len(line) - len(line.lstrip(" -"))
            lines.append(escape(line[:lead]) + _value(line[lead:]))
    return Markup("\n").join(lines)


def fields(variables: dict[str, Any]) -> list[dict]:
    """One form field per declared variable: a select for enums, a password input for
    secrets, a checkbox for booleans, numbers for numbers, a text area for lists/objects."""
    out = []
    for name, var in variables.items():
        var = var if isinstance(var, dict) else {}
        kind = str(var.get("type") or "string")
        default = var.get("default")
        required = var.get("required")
        field = {"name": name, "type": kind, "description": var.get("description") or "",
                 "required": required if required is not None else default is None,
                 "default": "" if default is None else default, "values": var.get("values")}
        if var.get("secret"):
            field["input"] = "password"
        elif field["values"]:
            field["input"] = "select"
        elif kind == "boolean":
            field["input"] = "checkbox"
        elif kind in ("integer", "number"):
            field["input"] = "number"
        elif kind in ("list", "object", "array", "json"):
            field["input"] = "textarea"
        else:
            field["input"] = "text"
        out.append(field)
    return out
