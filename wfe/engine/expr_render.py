"""Evaluating expressions while a run runs: values, strings, argv, shell commands, conditions."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from jinja2 import nodes
from jinja2.exceptions import UndefinedError
from jinja2.runtime import Undefined

from wfe.engine.expr_limits import MAX_EXPRESSION_BYTES, TooLarge, finish, start, weight
from wfe.engine.expr_sandbox import compiled
from wfe.engine.expr_syntax import (
    Expr,
    ExpressionError,
    ExpressionTooLarge,
    condition_source,
    path_text,
    references,
    show,
    split_text,
)
from wfe.engine.shellquote import ShellContextError, ShellScanner, quote_for

_FALSE_WORDS = frozenset({"", "false", "no", "0"})


def _native(value: Any) -> Any:
    """Plain JSON-like data from whatever jinja returned (generators, tuples, Markup...)."""
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _native(v) for k, v in value.items()}
    if isinstance(value, Iterable):  # lists, tuples, and the generators map() and select() return
        return [_native(v) for v in value]
    return str(value)


def _missing_path(ctx: Mapping[str, Any], name: str, keys: list[str | int | None]) -> str | None:
    """The first prefix of name.keys... that the context does not have, if one is missing."""
    current: Any = ctx
    for i, key in enumerate([name, *keys]):
        if key is None:
            return None
        if isinstance(current, Mapping) and key in current:
            current = current[key]
        elif isinstance(current, (list, tuple)) and isinstance(key, int):
            if not -len(current) <= key < len(current):
                return path_text(name, keys[:i])
            current = current[key]
        elif isinstance(key, str) and hasattr(current, key):
            return None  # a method such as .upper(): jinja finds it, so it is not what is missing
        else:
            return path_text(name, keys[:i])
    return None


def _undefined_message(
    tree: nodes.Node, source: str, ctx: Mapping[str, Any], err: Exception
) -> str:
    for name, keys in references(tree):
        missing = _missing_path(ctx, name, keys)
        if missing is not None:
            where = "" if missing == source else f" in {show(source)}"
            return f"'{missing}' is undefined{where}"
    return f"{show(source)}: {err}"


def evaluate(source: str, ctx: Mapping[str, Any], limit: int = MAX_EXPRESSION_BYTES) -> Any:
    """The value of one expression (the text between the braces), at most ``limit`` bytes."""
    tree, fn = compiled(source)
    token = start(limit)
    try:
        value = fn(dict(ctx))
        if (size := weight(value, limit)) > limit:
            raise TooLarge(size, limit)
        return _native(value)
    except TooLarge as e:
        raise too_large(source, e) from None
    except UndefinedError as e:
        raise ExpressionError(_undefined_message(tree, source, ctx, e)) from None
    except Exception as e:  # any failure inside user code is the template's problem, not ours
        raise ExpressionError(f"{show(source)} failed: {e}") from None
    finally:
        finish(token)


def too_large(source: str, e: TooLarge) -> ExpressionTooLarge:
    return ExpressionTooLarge(f"{show(source)} is too large: {e}")


def to_text(value: Any) -> str:
    """How a value reads when spliced into a string."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def render(value: Any, ctx: Mapping[str, Any], limit: int = MAX_EXPRESSION_BYTES) -> Any:
    """Render every string in ``value`` (through dicts' values and lists); keys stay literal.

    A string that is exactly one expression becomes that expression's value (a dict, a number,
    a bool...); any other string stays a string with each expression's text spliced in.
    """
    if isinstance(value, str):
        return _render_string(value, ctx, limit)
    if isinstance(value, Mapping):
        return {k: render(v, ctx, limit) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [render(v, ctx, limit) for v in value]
    return value


class _Spliced:
    """The values spliced into one string: together, too, at most the limit."""

    def __init__(self, limit: int) -> None:
        self.limit, self.size = limit, 0

    def text(self, source: str, ctx: Mapping[str, Any]) -> str:
        text = to_text(evaluate(source, ctx, self.limit))
        self.size += len(text)
        if self.size > self.limit:
            raise too_large(source, TooLarge(self.size, self.limit))
        return text


def _render_string(text: str, ctx: Mapping[str, Any], limit: int) -> Any:
    pieces = split_text(text)
    if len(pieces) == 1 and isinstance(pieces[0], Expr):
        return evaluate(pieces[0].source, ctx, limit)
    spliced = _Spliced(limit)
    return "".join(p if isinstance(p, str) else spliced.text(p.source, ctx) for p in pieces)


def render_text(text: str, ctx: Mapping[str, Any], limit: int = MAX_EXPRESSION_BYTES) -> str:
    """Render ``text`` and always get a string back."""
    return to_text(render(text, ctx, limit))


def render_argv(
    argv: list[Any], ctx: Mapping[str, Any], limit: int = MAX_EXPRESSION_BYTES
) -> list[str]:
    """An argv list for exec (no shell): each element rendered to exactly one string."""
    return [render_text(a if isinstance(a, str) else to_text(a), ctx, limit) for a in argv]


def render_shell(command: str, ctx: Mapping[str, Any], limit: int = MAX_EXPRESSION_BYTES) -> str:
    """A shell command with each value quoted for where it lands, so it arrives byte for byte."""
    out: list[str] = []
    scanner, spliced = ShellScanner(), _Spliced(limit)
    for piece in split_text(command):
        if isinstance(piece, str):
            scanner.feed(piece)
            out.append(piece)
            continue
        try:
            where = scanner.context()
        except ShellContextError as e:
            raise ExpressionError(f"{show(piece.source)}: {e}") from None
        text = spliced.text(piece.source, ctx)
        if "\x00" in text:
            raise ExpressionError(f"{show(piece.source)}: a shell cannot pass a NUL character")
        out.append(quote_for(text, where))
        scanner.after_value()
    return "".join(out)


def truthy(value: Any) -> bool:
    # Step outputs are often text, and "false" from a script should mean false.
    if isinstance(value, str):
        return value.strip().lower() not in _FALSE_WORDS
    return bool(value)


def evaluate_condition(
    text: str | bool, ctx: Mapping[str, Any], limit: int = MAX_EXPRESSION_BYTES
) -> bool:
    """Whether an ``if:`` holds. Strings "", "false", "no" and "0" (any case) count as false."""
    if isinstance(text, bool):
        return text
    return truthy(evaluate(condition_source(text), ctx, limit))
