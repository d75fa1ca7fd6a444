"""Which stored secrets and variables a template's expressions read (``secrets.NAME``,
``vars.NAME``): found once from the text, so a Runner opens only those, when a step starts."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Iterator
from typing import Any

from wfe.engine.expr_sandbox import parsed
from wfe.engine.expr_syntax import Expr, ExpressionError, condition_source, references, split_text

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
STORED_ROOTS = ("secrets", "vars")


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def _sources(text: str) -> Iterator[str]:
    try:
        pieces = split_text(text)
    except ExpressionError:
        return
    yield from (p.source for p in pieces if isinstance(p, Expr))


def names_read(texts: Iterable[str], condition: str | bool | None = None) -> dict[str, set[str]]:
    """``{"secrets": {...}, "vars": {...}}``: the literal names these texts read."""
    sources = [s for t in texts for s in _sources(t)]
    if isinstance(condition, str):
        with contextlib.suppress(ExpressionError):
            sources.append(condition_source(condition))
    found: dict[str, set[str]] = {root: set() for root in STORED_ROOTS}
    for source in sources:
        try:
            tree = parsed(source)
        except ExpressionError:
            continue
        for root, keys in references(tree):
            if root in found and keys and isinstance(keys[0], str):
                found[root].add(keys[0])
    return found


def step_reads(step: Any) -> dict[str, set[str]]:
    """What one step (a StepSpec) reads, in any of its fields or its condition."""
    data = step.model_dump(exclude={"if_"})
    return names_read(_strings(data), step.if_)


def template_reads(steps: Iterable[Any]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {root: set() for root in STORED_ROOTS}
    for step in steps:
        for root, names in step_reads(step).items():
            out[root] |= names
    return out


def check_stored_reference(name: str, keys: list[str | int | None],
                           declared: Iterable[str] | None) -> str | None:
    """A problem with ``secrets.X`` / ``vars.X``: a name that is computed, malformed, or (for
    a secret) not in the template's ``secrets:`` list when it has one."""
    first = keys[0] if keys else None
    if not isinstance(first, str):
        return f"'{name}' must be followed by a literal name, e.g. {name}.API_TOKEN"
    if not NAME.fullmatch(first):
        return f"'{name}.{first}' is not a valid name (letters, digits and _, at most 64)"
    if name == "secrets" and declared is not None and first not in declared:
        listed = ", ".join(sorted(declared)) or "none"
        return (f"'secrets.{first}' is not in the template's secrets list (declared: "
                f"{listed})")
    return None
