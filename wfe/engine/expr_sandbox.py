"""The sandboxed jinja2 environment expressions are compiled in, and the compile cache."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, nodes
from jinja2.parser import Parser
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from wfe.engine.expr_syntax import ExpressionError, show
from wfe.engine.jsontext import MAX_DEPTH


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


@lru_cache(maxsize=1024)
def _parse(source: str) -> nodes.Expr:
    if not source:
        raise TemplateSyntaxError("the expression is empty", 1)
    parser = Parser(_ENV, source, state="variable")
    try:
        tree = parser.parse_expression()
    except RecursionError:  # jinja's parser recurses once per level: "((((...", "not not..."
        raise TemplateSyntaxError(_TOO_DEEP, 1) from None
    if not parser.stream.eos:
        raise TemplateSyntaxError(f"unexpected {parser.stream.current.value!r}", 1)
    _refuse_deep(tree)
    _refuse_unknown(tree)
    return tree


_TOO_DEEP = f"it nests more than {MAX_DEPTH} levels deep"


def _refuse_deep(tree: nodes.Node) -> None:
    """Every later walk of the tree (checks, compiling, rendering) recurses once per level,
    and "1+1+1..." parses without recursion into a tree as deep as it is long."""
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise TemplateSyntaxError(_TOO_DEEP, 1)
        stack.extend((child, depth + 1) for child in node.iter_child_nodes())


def _refuse_unknown(node: nodes.Node) -> None:
    """What compiling would refuse beyond the syntax: an unknown filter or test, except inside
    ``a if b else c`` where jinja defers that to run time. Parsing alone is about 8x cheaper
    than compiling, which made checking a long template take seconds."""
    if isinstance(node, nodes.CondExpr):
        return
    if isinstance(node, (nodes.Filter, nodes.Test)):
        names = _ENV.filters if isinstance(node, nodes.Filter) else _ENV.tests
        if node.name not in names:
            kind = "filter" if isinstance(node, nodes.Filter) else "test"
            raise TemplateSyntaxError(f"No {kind} named {node.name!r}.", 1)
    for child in node.iter_child_nodes():
        _refuse_unknown(child)


@lru_cache(maxsize=1024)
def _compile(source: str) -> tuple[nodes.Expr, Callable[..., Any]]:
    return _parse(source), _ENV.compile_expression(source, undefined_to_none=False)


def _explained(source: str, make: Callable[[str], Any]) -> Any:
    try:
        return make(source)
    except TemplateError as e:
        problem = (e.message or str(e)).replace("end of template", "end of the expression")
        raise ExpressionError(f"invalid expression {show(source)}: {problem}") from None


def parsed(source: str) -> nodes.Expr:
    """The parse tree of one expression, for checking; ExpressionError if it is invalid."""
    return _explained(source, _parse)


def compiled(source: str) -> tuple[nodes.Expr, Callable[..., Any]]:
    """The parse tree and compiled function of one expression; ExpressionError if invalid."""
    return _explained(source, _compile)
