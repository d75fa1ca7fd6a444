"""A page or one thing, as -o / --field / --json / -q ask (wfe.cli.output); the table
people read otherwise."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from wfe.cli.render import base


def emit(doc: dict, how: Any, view: Callable[[dict], None], key: str = "id") -> None:
    """``doc`` is a page (``{"items": [...], ...}``) or one thing; ``view`` draws it."""
    from wfe.cli.output import pick

    items = doc.get("items") if isinstance(doc.get("items"), list) else None
    if how.field is not None:
        for one in items if items is not None else [doc]:
            base.out(_scalar(pick(one, how.field)))
    elif how.format == "json":
        base.json_out(doc)
    elif how.format == "jsonl":
        for one in items if items is not None else [doc]:
            base.out(json.dumps(one, separators=(",", ":")))
    elif how.format == "yaml":
        import yaml  # only paid for when asked

        base.text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
    elif how.format == "id":
        for one in items if items is not None else [doc]:
            base.out(str(one.get(key)))
    else:
        with base.wide(how.format == "wide"):
            view(doc)


def _scalar(value: Any) -> str:
    """A field as a shell wants it: text bare, nothing for null, the rest as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))
