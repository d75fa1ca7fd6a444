"""How list and show commands print, for people and scripts alike: ``-o/--output
json|jsonl|yaml|wide|id`` beside the older ``--json`` and ``-q``, and ``--field NAME`` to
pick one value (a dotted path) without jq. Nothing here prints: render.emit does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import typer

from wfe import errors

FORMATS = ("json", "jsonl", "yaml", "wide", "id")
OUTPUT_HELP = ("json, jsonl (one item a line), yaml, wide (every column, whole ids) or id"
               " (one a line).")
FIELD_HELP = ("Print only this field, by a dotted path (status, template.name, steps.0.name);"
              " one line per item.")


def output_opt():
    return typer.Option(None, "-o", "--output", metavar="FORMAT", help=OUTPUT_HELP)


def field_opt():
    return typer.Option(None, "--field", metavar="NAME", help=FIELD_HELP)


@dataclass(frozen=True)
class Output:
    """What was asked for: a format (None: the table people read) and maybe one field."""

    format: str | None = None
    field: str | None = None

    @classmethod
    def of(cls, as_json: bool = False, quiet: bool = False, output: str | None = None,
           field: str | None = None) -> Output:
        if output is not None and output not in FORMATS:
            raise errors.UsageError(f"-o/--output must be one of: {', '.join(FORMATS)}")
        asked = {f for f, on in (("json", as_json), ("id", quiet)) if on}
        if output is not None:
            asked.add(output)
        if len(asked) > 1:
            raise errors.UsageError(f"give one output format, not {' and '.join(sorted(asked))}")
        if field is not None and asked - {"json"}:
            raise errors.UsageError("--field goes alone (or with --json, ignored)")
        return cls(next(iter(asked), None), field)

    @property
    def machine(self) -> bool:
        """Output a script parses: nothing else may go to stdout."""
        return self.format not in (None, "wide") or self.field is not None


def pick(doc: Any, path: str) -> Any:
    """The value at a dotted path: ``template.name``, ``steps.0.status``; UsageError when
    the document has no such field."""
    value = doc
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.lstrip("-").isdigit() and (
                -len(value) <= int(part) < len(value)):
            value = value[int(part)]
        else:
            keys = ", ".join(sorted(doc)) if isinstance(doc, dict) else "none"
            raise errors.UsageError(f"no field {path!r} (fields: {keys})")
    return value
