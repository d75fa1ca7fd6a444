"""``${{ ... }}`` expressions: checked when a template is saved, rendered while a run runs.

Each region is one sandboxed jinja2 *expression*; text outside the regions is literal, so a
``{{x}}`` or ``{% %}`` a user writes in a shell script stays what it is.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, nodes
from jinja2.exceptions import UndefinedError
from jinja2.parser import Parser
from jinja2.runtime import Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from wfe.engine.shellquote import ShellContextError, ShellScanner, quote_for
from wfe.errors import ValidationFailed

RUN_FIELDS = ("id", "template", "version", "owner")
STEP_FIELDS = ("output", "status", "callback_url")
_OPEN, _CLOSE = "${{", "}}"
_FALSE_WORDS = frozenset({"", "false", "no", "0"})


class ExpressionError(ValidationFailed):
    """An expression could not be parsed or evaluated."""

    def __init__(self, message: str, details: Any = None, *, path: str = "expression") -> None:
        if details is None:
            details = [{"path": path, "message": message}]
        super().__init__(message, details)


class _Env(ImmutableSandboxedEnvironment):
    # The daemon evaluates expressions in its own process: refuse the two cheap memory bombs.
    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(left, int) and isinstance(right, int):
            if abs(left) > 1 and right * left.bit_length() > 1 << 16:
                raise SecurityError("exponent too large")
        if operator == "*":
            for seq, n in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(n, int):
                    if len(seq) * n > 1 << 20:
                        raise SecurityError("result too large")
        return super().call_binop(context, operator, left, right)

    def getattr(self, obj: Any, attribute: str) -> Any:
        # Data first: output.items must be the step's "items" key, not dict.items.
        if isinstance(obj, Mapping) and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)


def _tojson(value: Any, indent: int | None = None) -> str:
    # jinja's own tojson escapes <>&' for HTML; here the text goes to shells and HTTP bodies.
    return json.dumps(value, indent=indent, ensure_ascii=False)


_ENV = _Env(undefined=StrictUndefined, autoescape=False)
_ENV.globals.clear()  # range(), lipsum() and friends are names check() would refuse anyway
_ENV.filters["tojson"] = _tojson
_ENV.filters["fromjson"] = json.loads


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


# --- parsing and checking -------------------------------------------------------------------


@lru_cache(maxsize=1024)
def _compile(source: str) -> tuple[nodes.Expr, Callable[..., Any]]:
    if not source:
        raise TemplateSyntaxError("the expression is empty", 1)
    parser = Parser(_ENV, source, state="variable")
    tree = parser.parse_expression()
    if not parser.stream.eos:
        raise TemplateSyntaxError(f"unexpected {parser.stream.current.value!r}", 1)
    # compile_expression also catches unknown filters and tests, which parsing alone does not.
    return tree, _ENV.compile_expression(source, undefined_to_none=False)


def _compiled(source: str) -> tuple[nodes.Expr, Callable[..., Any]]:
    try:
        return _compile(source)
    except TemplateError as e:
        problem = (e.message or str(e)).replace("end of template", "end of the expression")
        raise ExpressionError(f"invalid expression {_show(source)}: {problem}") from None


def _show(source: str) -> str:
    return f"'${{{{ {source} }}}}'"


def _path_text(name: str, keys: list[str | int | None]) -> str:
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


def _references(node: nodes.Node) -> Iterator[tuple[str, list[str | int | None]]]:
    """Every name the expression reads, with the literal keys that follow it."""
    if isinstance(node, (nodes.Name, nodes.Getattr, nodes.Getitem)):
        root, keys, computed = _chain(node)
        if isinstance(root, nodes.Name):
            yield root.name, keys
        else:
            yield from _references(root)
        for sub in computed:
            yield from _references(sub)
        return
    for child in node.iter_child_nodes():
        yield from _references(child)


def _check_reference(
    name: str,
    keys: list[str | int | None],
    variables: set[str],
    steps_before: set[str],
    callback_steps: set[str],
) -> str | None:
    private = next((k for k in keys if isinstance(k, str) and k.startswith("_")), None)
    if private is not None:
        return f"'{private}' is private and cannot be used"
    first = keys[0] if keys else None
    shown = _path_text(name, keys[:1])
    if name == "input":
        if isinstance(first, str) and first not in variables:
            known = ", ".join(sorted(variables)) or "none"
            return f"'{shown}' is not a declared variable (declared: {known})"
    elif name == "run":
        if isinstance(first, str) and first not in RUN_FIELDS:
            expected = ", ".join(f"run.{f}" for f in RUN_FIELDS)
            return f"'{shown}' is unknown; expected one of: {expected}"
    elif name == "steps":
        return _check_step_reference(keys, steps_before, callback_steps)
    else:
        return f"unknown name '{name}'; expressions can use input, steps and run"
    return None


def _check_step_reference(
    keys: list[str | int | None], steps_before: set[str], callback_steps: set[str]
) -> str | None:
    if not keys or not isinstance(keys[0], str):
        return "'steps' must be followed by a step name, e.g. steps.build.output"
    step, field = keys[0], (keys[1] if len(keys) > 1 else None)
    shown = _path_text("steps", keys[:1])
    if field == "callback_url":
        if step in callback_steps:
            return None  # callback URLs exist from the run's start: any step may pass one on
        if step in steps_before:
            return f"step '{step}' is not a callback step, so it has no callback_url"
    if step not in steps_before:
        if step in callback_steps:
            return f"'{shown}' is not an earlier step; only its callback_url can be used here"
        return f"'{shown}' does not name an earlier step"
    if isinstance(field, str) and field not in STEP_FIELDS:
        shown = _path_text("steps", keys[:2])
        return f"'{shown}' is unknown; expected output, status or callback_url"
    return None


def check(
    text: str, variables: set[str], steps_before: set[str], callback_steps: set[str]
) -> list[str]:
    """Problems with the expressions in ``text``: syntax errors and names it may not use."""
    try:
        pieces = split_text(text)
    except ExpressionError as e:
        return [e.message]
    errors: list[str] = []
    for piece in pieces:
        if isinstance(piece, Expr):
            errors.extend(_check_expr(piece.source, variables, steps_before, callback_steps))
    return list(dict.fromkeys(errors))


def _check_expr(source: str, *names: set[str]) -> list[str]:
    try:
        tree, _ = _compiled(source)
    except ExpressionError as e:
        return [e.message]
    errors = []
    for name, keys in _references(tree):
        problem = _check_reference(name, keys, *names)
        if problem and problem not in errors:
            whole = _path_text(name, keys) == source
            errors.append(problem if whole else f"{problem} in {_show(source)}")
    return errors


def condition_source(text: str) -> str:
    """The expression of an ``if:`` — written as ``${{ expr }}`` or as a bare ``expr``."""
    pieces = split_text(text.strip())
    exprs = [p for p in pieces if isinstance(p, Expr)]
    if not exprs:
        return text.strip()
    if len(pieces) == 1:
        return exprs[0].source
    raise ExpressionError("a condition must be a single expression, e.g. ${{ input.deploy }}")


def check_condition(
    text: str | bool, variables: set[str], steps_before: set[str], callback_steps: set[str]
) -> list[str]:
    if isinstance(text, bool):
        return []
    try:
        source = condition_source(text)
    except ExpressionError as e:
        return [e.message]
    return _check_expr(source, variables, steps_before, callback_steps)


def check_shell(command: str) -> list[str]:
    """Expressions placed where a value cannot be quoted safely (inside backticks, heredocs...)."""
    try:
        pieces = split_text(command)
    except ExpressionError as e:
        return [e.message]
    scanner, errors = ShellScanner(), []
    for piece in pieces:
        if isinstance(piece, str):
            scanner.feed(piece)
            continue
        try:
            scanner.context()
        except ShellContextError as e:
            errors.append(f"{_show(piece.source)}: {e}")
        scanner.after_value()
    return errors


# --- evaluating -----------------------------------------------------------------------------


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
                return _path_text(name, keys[:i])
            current = current[key]
        elif isinstance(key, str) and hasattr(current, key):
            return None  # a method such as .upper(): jinja finds it, so it is not what is missing
        else:
            return _path_text(name, keys[:i])
    return None


def _undefined_message(
    tree: nodes.Node, source: str, ctx: Mapping[str, Any], err: Exception
) -> str:
    for name, keys in _references(tree):
        missing = _missing_path(ctx, name, keys)
        if missing is not None:
            where = "" if missing == source else f" in {_show(source)}"
            return f"'{missing}' is undefined{where}"
    return f"{_show(source)}: {err}"


def evaluate(source: str, ctx: Mapping[str, Any]) -> Any:
    """The value of one expression (the text between the braces)."""
    tree, fn = _compiled(source)
    try:
        return _native(fn(dict(ctx)))
    except UndefinedError as e:
        raise ExpressionError(_undefined_message(tree, source, ctx, e)) from None
    except Exception as e:  # any failure inside user code is the template's problem, not ours
        raise ExpressionError(f"{_show(source)} failed: {e}") from None


def to_text(value: Any) -> str:
    """How a value reads when spliced into a string."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def render(value: Any, ctx: Mapping[str, Any]) -> Any:
    """Render every string in ``value`` (through dicts' values and lists); keys stay literal.

    A string that is exactly one expression becomes that expression's value (a dict, a number,
    a bool...); any other string stays a string with each expression's text spliced in.
    """
    if isinstance(value, str):
        return _render_string(value, ctx)
    if isinstance(value, Mapping):
        return {k: render(v, ctx) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [render(v, ctx) for v in value]
    return value


def _render_string(text: str, ctx: Mapping[str, Any]) -> Any:
    pieces = split_text(text)
    if len(pieces) == 1 and isinstance(pieces[0], Expr):
        return evaluate(pieces[0].source, ctx)
    return "".join(p if isinstance(p, str) else to_text(evaluate(p.source, ctx)) for p in pieces)


def render_text(text: str, ctx: Mapping[str, Any]) -> str:
    """Render ``text`` and always get a string back."""
    return to_text(render(text, ctx))


def render_argv(argv: list[Any], ctx: Mapping[str, Any]) -> list[str]:
    """An argv list for exec (no shell): each element rendered to exactly one string."""
    return [render_text(a if isinstance(a, str) else to_text(a), ctx) for a in argv]


def render_shell(command: str, ctx: Mapping[str, Any]) -> str:
    """A shell command with each value quoted for where it lands, so it arrives byte for byte."""
    out: list[str] = []
    scanner = ShellScanner()
    for piece in split_text(command):
        if isinstance(piece, str):
            scanner.feed(piece)
            out.append(piece)
            continue
        try:
            where = scanner.context()
        except ShellContextError as e:
            raise ExpressionError(f"{_show(piece.source)}: {e}") from None
        text = to_text(evaluate(piece.source, ctx))
        if "\x00" in text:
            raise ExpressionError(f"{_show(piece.source)}: a shell cannot pass a NUL character")
        out.append(quote_for(text, where))
        scanner.after_value()
    return "".join(out)


def truthy(value: Any) -> bool:
    # Step outputs are often text, and "false" from a script should mean false.
    if isinstance(value, str):
        return value.strip().lower() not in _FALSE_WORDS
    return bool(value)


def evaluate_condition(text: str | bool, ctx: Mapping[str, Any]) -> bool:
    """Whether an ``if:`` holds. Strings "", "false", "no" and "0" (any case) count as false."""
    if isinstance(text, bool):
        return text
    return truthy(evaluate(condition_source(text), ctx))
