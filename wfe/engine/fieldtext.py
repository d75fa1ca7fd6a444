"""Field errors in wfe's words.

The models are checked by pydantic, whose messages ("Input should be a valid string",
"Extra inputs are not permitted") are a library's phrasing: they change with its versions
and name its concepts. The API answers each field error in its own words instead, from the
error's type and context; a message a validator of ours raised is kept as written.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

TYPES = {
    "string_type": "must be a string",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "mapping_type": "must be an object",
    "list_type": "must be a list",
    "tuple_type": "must be a list",
    "set_type": "must be a list",
    "none_required": "must be null",
    "missing": "required",
    "extra_forbidden": "unknown field",
    "string_unicode": "must be valid Unicode text",
    "finite_number": "must be a finite number",
    "uuid_type": "must be a UUID",
    "uuid_parsing": "must be a UUID",
    "datetime_type": "must be an ISO-8601 date and time",
    "datetime_parsing": "must be an ISO-8601 date and time",
    "datetime_from_date_parsing": "must be an ISO-8601 date and time",
    "union_tag_not_found": "says what it is in none of the known ways",
}
# Types whose message is a bound from the context: (template, context key).
BOUNDS = {
    "string_too_short": ("must be at least {} long", "min_length"),
    "string_too_long": ("must be at most {} long", "max_length"),
    "too_short": ("must have at least {}", "min_length"),
    "too_long": ("must have at most {}", "max_length"),
    "greater_than": ("must be greater than {}", "gt"),
    "greater_than_equal": ("must be at least {}", "ge"),
    "less_than": ("must be less than {}", "lt"),
    "less_than_equal": ("must be at most {}", "le"),
    "multiple_of": ("must be a multiple of {}", "multiple_of"),
    "string_pattern_mismatch": ("must match the pattern {}", "pattern"),
    "literal_error": ("must be {}", "expected"),
    "enum": ("must be {}", "expected"),
    "union_tag_invalid": ("must be one of {}", "expected_tags"),
}

COUNTED = {"string_too_short": "character", "string_too_long": "character",
           "too_short": "item", "too_long": "item"}


def field_message(err: Mapping[str, Any]) -> str:
    """One pydantic error (an item of ``ValidationError.errors()``) in wfe's words."""
    kind, ctx = err.get("type", ""), err.get("ctx") or {}
    if kind in ("value_error", "assertion_error") and "error" in ctx:
        return str(ctx["error"])  # our own validator's words
    if kind in TYPES:
        return TYPES[kind]
    if kind in BOUNDS:
        template, key = BOUNDS[kind]
        if key in ctx:
            if kind == "string_too_short" and ctx[key] == 1:
                return "must not be empty"
            if kind in COUNTED:
                n = ctx[key]
                return template.format(f"{n} {COUNTED[kind]}{'' if n == 1 else 's'}")
            return template.format(ctx[key])
    return "invalid value"
