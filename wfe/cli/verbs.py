"""The regular verbs every noun answers to, as with gh and kubectl: ``create``, ``ls`` (or
``list``), ``show``, ``rm`` (or ``delete``). A noun's older spelling (``webhook add``,
``token revoke``, ``secret set``) keeps working as a hidden alias, so scripts written
against it do not break; help and completion show the regular one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer

# The regular verb -> the other spelling that is always accepted too.
SYNONYMS = {"ls": ("list",), "rm": ("delete",)}


def command(app: typer.Typer, name: str, *old: str) -> Callable[[Any], Any]:
    """``@command(app, "create", "add")``: the command under its regular name, its synonyms
    (``list`` for ``ls``) and its older names (``add``), those two hidden."""

    def register(fn: Any) -> Any:
        app.command(name)(fn)
        for alias in (*SYNONYMS.get(name, ()), *old):
            app.command(alias, hidden=True)(fn)
        return fn

    return register
