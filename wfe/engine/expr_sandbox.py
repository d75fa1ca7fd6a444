"""The sandboxed jinja2 environment expressions are compiled in, and the compile cache.

Every operation that can build a value goes through a check in expr_limits or expr_filters
first: the operators (``~`` through a code generator that calls the environment), method
calls, slices and the whitelisted filters.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from typing import Any, TypeVar

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.parser import Parser
from jinja2.runtime import Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from wfe.engine.expr_filters import allowed_method, bounded_filters, check_method
from wfe.engine.expr_limits import check_binop, check_concat, check_format, settle
from wfe.engine.expr_syntax import ExpressionError, show
from wfe.engine.jsontext import MAX_DEPTH


class _CodeGenerator(CodeGenerator):
    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        # jinja joins a ~ b inline; route it through the environment so that it is checked.
        self.write("environment.concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class _Env(ImmutableSandboxedEnvironment):
    code_generator_class = _CodeGenerator
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        check_binop(operator, left, right)
        return settle(super().call_binop(context, operator, left, right))

    def concat(self, values: Iterable[Any]) -> str:
        items = tuple(values)  # the check must not use up a generator before the join
        check_concat(items)
        return "".join(map(str, items))

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(__obj, Undefined):
            __obj._fail_with_undefined_error()  # the name it stands for is what went wrong
        owner, name = getattr(__obj, "__self__", None), getattr(__obj, "__name__", "")
        if getattr(__obj, "wfe_format", False):
            pass  # a str.format checked by wrap_str_format
        elif owner is None or not allowed_method(owner, name):
            raise SecurityError(f"{name or type(__obj).__name__!r} cannot be called here")
        else:
            args = check_method(owner, name, args, kwargs)
        return settle(super().call(__context, __obj, *args, **kwargs))

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        fmt = super().wrap_str_format(value)
        if fmt is None or value.__name__ != "format":
            return fmt  # format_map falls through to is_safe_attribute, which refuses it
        text = value.__self__

        def checked(*args: Any, **kwargs: Any) -> str:
            check_format(text, args, kwargs)
            return fmt(*args, **kwargs)

        checked.wfe_format = True  # type: ignore[attr-defined]
        return checked

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if callable(value) and not allowed_method(obj, attr):
            return False
        return super().is_safe_attribute(obj, attr, value)

    def getattr(self, obj: Any, attribute: str) -> Any:
        # Data first: output.items must be the step's "items" key, not dict.items.
        if isinstance(obj, Mapping) and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        got = super().getitem(obj, argument)
        return settle(got) if isinstance(argument, slice) else got


# optimized=False: jinja's optimizer would run constant filters while compiling, unchecked.
_ENV = _Env(undefined=StrictUndefined, autoescape=False, optimized=False)
_ENV.globals.clear()  # range(), lipsum() and friends are names check() would refuse anyway
_ENV.filters.clear()
_ENV.filters.update(bounded_filters())


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


_T = TypeVar("_T")


def _explained(source: str, make: Callable[[str], _T]) -> _T:
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
