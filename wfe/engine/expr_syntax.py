"""What an expression is: ``${{ ... }}`` regions found in text, and the names each one reads.

Nothing here evaluates anything; expr_sandbox compiles, expr_check and expr_render use both.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import nodes

from wfe.errors import ValidationFailed

_OPEN, _CLOSE = "${{", "}}"


class ExpressionError(ValidationFailed):
    """An expression could not be parsed or evaluated."""

    def __init__(self, message: str, details: Any = None, *, path: str = "expression") -> None:
        if details is None:
            details = [{"path": path, "message": message}]
        super().__init__(message, details)


class ExpressionTooLarge(ExpressionError):
    """An expression would build a value over max_expression_bytes."""


@dataclass(frozen=True)
class Expr:
    source: str  # what is between the braces, stripped


class _SplitError(ValueError):
    pass


@lru_cache(maxsize=512)
def _split(text: str) -> tuple[str | Expr, ...]:
    """The text as literal pieces and expressions, in order (no empty literals)."""
    out: list[str | Expr] = []
    pos = 0
    while (start := text.find(_OPEN, pos)) >= 0:
        if start > pos:
            out.append(text[pos:start])
        end = _find_close(text, start + len(_OPEN))
        if end < 0:
            snippet = text[start : start + 40]
            raise _SplitError(f"unterminated expression {snippet!r}: missing '}}}}'")
        out.append(Expr(text[start + len(_OPEN) : end].strip()))
        pos = end + len(_CLOSE)
    if pos < len(text):
        out.append(text[pos:])
    return tuple(out)


def _find_close(text: str, i: int) -> int:
    # Brace- and quote-aware so that ${{ {'a': {'b': 1}} }} and ${{ '}}' }} end where meant.
    depth, quote = 0, ""
    while i < len(text):
        c = text[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = ""
        elif c in "'\"":
            quote = c
        elif c == "{":
            depth += 1
        elif c == "}":
            if depth == 0 and text.startswith(_CLOSE, i):
                return i
            depth = max(depth - 1, 0)
        i += 1
    return -1


def split_text(text: str) -> tuple[str | Expr, ...]:
    """Split ``text`` into literals and expressions; ExpressionError if a region is unclosed."""
    if _OPEN not in text:
        return (text,) if text else ()
    try:
        return _split(text)
    except _SplitError as e:
        raise ExpressionError(str(e)) from None


def has_expressions(text: str) -> bool:
    return _OPEN in text


def show(source: str) -> str:
    """``source`` written back as the ``${{ ... }}`` a person typed, for messages."""
    return f"'${{{{ {source} }}}}'"


def path_text(name: str, keys: list[str | int | None]) -> str:
    """``name`` and its keys as an expression path, e.g. steps.build['a b'][...]."""
    out = name
    for k in keys:
        if isinstance(k, str) and k.isidentifier():
            out += f".{k}"
        else:
            out += "[...]" if k is None else f"[{k!r}]"
    return out


def _chain(node: nodes.Node) -> tuple[nodes.Node, list[str | int | None], list[nodes.Node]]:
    """The root of a.b['c'][x] and its keys (None when computed), plus the computed parts."""
    keys: list[str | int | None] = []
    computed: list[nodes.Node] = []
    while isinstance(node, (nodes.Getattr, nodes.Getitem)):
        if isinstance(node, nodes.Getattr):
            keys.append(node.attr)
        elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, (str, int)):
            keys.append(node.arg.value)
        else:
            keys.append(None)
            computed.append(node.arg)
        node = node.node
    keys.reverse()
    return node, keys, computed


def references(node: nodes.Node) -> Iterator[tuple[str, list[str | int | None]]]:
    """Every name the expression reads, with the literal keys that follow it."""
    if isinstance(node, (nodes.Name, nodes.Getattr, nodes.Getitem)):
        root, keys, computed = _chain(node)
        if isinstance(root, nodes.Name):
            yield root.name, keys
        else:
            yield from references(root)
        for sub in computed:
            yield from references(sub)
        return
    for child in node.iter_child_nodes():
        yield from references(child)


def condition_source(text: str) -> str:
    """The expression of an ``if:`` — written as ``${{ expr }}`` or as a bare ``expr``."""
    pieces = split_text(text.strip())
    exprs = [p for p in pieces if isinstance(p, Expr)]
    if not exprs:
        return text.strip()
    if len(pieces) == 1:
        return exprs[0].source
    raise ExpressionError("a condition must be a single expression, e.g. ${{ input.deploy }}")
