"""The filters and methods expressions may use, each bounded before it allocates.

A whitelist: a filter or method not named here does not exist for an expression, so a new
jinja2 release cannot bring in an unbounded one unnoticed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from functools import wraps
from typing import Any

from jinja2 import filters as jf
from jinja2.utils import _PassArg

from wfe.engine.expr_limits import (
    ITEM,
    check_printf,
    concrete,
    need,
    settle,
    take,
    text_weight,
    weight,
)

_LINE_BREAKS = re.compile(r"\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")
MAX_JSON_INDENT = 16

STR_METHODS = frozenset(
    "upper lower title capitalize casefold swapcase strip lstrip rstrip startswith endswith "
    "find rfind index rindex count split rsplit splitlines partition rpartition replace join "
    "center ljust rjust zfill removeprefix removesuffix isalnum isalpha isascii isdecimal "
    "isdigit isidentifier islower isnumeric isspace istitle isupper format".split()
)
MAPPING_METHODS = frozenset({"items", "keys", "values", "get"})
SEQUENCE_METHODS = frozenset({"index", "count"})


def allowed_method(obj: Any, name: str) -> bool:
    if isinstance(obj, str):
        return name in STR_METHODS
    if isinstance(obj, Mapping):
        return name in MAPPING_METHODS
    return isinstance(obj, (list, tuple)) and name in SEQUENCE_METHODS


def _int(value: Any) -> int:
    return value if isinstance(value, int) else 0


def _pieces(text: str, sep: Any, maxsplit: Any) -> int:
    if isinstance(sep, str) and sep:
        n = text.count(sep) + 1
    else:
        n = sum(1 for _ in re.finditer(r"\S+", text)) + 1
    return min(n, maxsplit + 1) if isinstance(maxsplit, int) and maxsplit >= 0 else n


def _replace_size(text: str, old: Any, new: Any, count: Any) -> int:
    if not isinstance(old, str) or not isinstance(new, str):
        return len(text)
    hits = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    return len(text) + hits * max(len(new) - len(old), 0)


def _join_size(sep: str, items: Sequence[Any]) -> int:
    return sum(text_weight(i) for i in items) + max(len(items) - 1, 0) * len(sep)


def check_method(obj: Any, name: str, args: tuple[Any, ...],
                 kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """The size a str method's arguments imply, refused before the call; may draw an iterator."""
    if not isinstance(obj, str):
        return args

    def arg(i: int, key: str, default: Any = None) -> Any:
        return args[i] if len(args) > i else kwargs.get(key, default)

    if name in ("center", "ljust", "rjust", "zfill"):
        need(max(len(obj), _int(arg(0, "width", 0))))
    elif name == "replace":
        need(_replace_size(obj, arg(0, "old"), arg(1, "new"), arg(2, "count", -1)))
    elif name == "join" and args:
        items = take(iter(args[0]))
        need(_join_size(obj, items))
        return (items, *args[1:])
    elif name in ("split", "rsplit"):
        need(len(obj) + ITEM * _pieces(obj, arg(0, "sep"), arg(1, "maxsplit", -1)))
    elif name == "splitlines":
        need(len(obj) + ITEM * (sum(1 for _ in _LINE_BREAKS.finditer(obj)) + 1))
    return args


# -- filters ------------------------------------------------------------------------------


def _center(value: Any, width: Any = 80, *_: Any, **__: Any) -> None:
    need(max(text_weight(value), _int(width)))


def _indent(s: Any, width: Any = 4, *_: Any, **__: Any) -> None:
    pad = len(width) if isinstance(width, str) else _int(width)
    text = str(s) if isinstance(s, str) else ""
    need(len(text) + (text.count("\n") + 1) * (pad + ITEM))


def _wordwrap(s: Any, width: Any = 79, brk: Any = True, wrapstring: Any = None,
              *_: Any, **kw: Any) -> None:
    wrapstring = kw.get("wrapstring", wrapstring)
    sep = len(wrapstring) if isinstance(wrapstring, str) else 1
    text = text_weight(s)
    # textwrap keeps every chunk of the text as its own string while it works.
    need(text * ITEM + (text + 1) * sep)


def _replace(s: Any, old: Any = None, new: Any = None, count: Any = None, **kw: Any) -> None:
    count = kw.get("count", count)
    need(_replace_size(s if isinstance(s, str) else str(s), old, new,
                       -1 if count is None else count))


def _join(value: Any, d: Any = "", attribute: Any = None, **kw: Any) -> None:
    sep = kw.get("d", d)
    items = value if isinstance(value, (list, tuple)) else list(value)
    need(_join_size(sep if isinstance(sep, str) else str(sep), items))


def _format(value: Any, *args: Any, **kwargs: Any) -> None:
    check_printf(value if isinstance(value, str) else str(value), kwargs or args)


def _batch(value: Any, linecount: Any = 1, fill_with: Any = None, **kw: Any) -> None:
    fill_with = kw.get("fill_with", fill_with)
    if fill_with is not None:
        need(weight(value) + _int(linecount) * (ITEM + weight(fill_with)))


def _slice(value: Any, slices: Any = 1, fill_with: Any = None, **kw: Any) -> None:
    fill_with = kw.get("fill_with", fill_with)
    need(weight(value) + _int(slices) * (2 + ITEM + ITEM + weight(fill_with)))


def _sum(iterable: Any, attribute: Any = None, start: Any = 0, **kw: Any) -> None:
    start = kw.get("start", start)
    if not isinstance(start, (int, float)):
        raise TypeError("sum adds numbers only")  # adding lists one by one is quadratic


def _tojson(value: Any, indent: Any = None, **kw: Any) -> None:
    indent = kw.get("indent", indent)
    if indent is not None and not (isinstance(indent, int) and 0 <= indent <= MAX_JSON_INDENT):
        raise ValueError(f"tojson's indent must be a number from 0 to {MAX_JSON_INDENT}")
    need(weight(value) * (1 + (indent or 0)))


def _fromjson(value: Any, *_: Any, **__: Any) -> None:
    # Each list or object read is a new Python object of about 64 bytes.
    text = value if isinstance(value, str) else ""
    need(len(text) + 64 * (text.count("[") + text.count("{")))


def tojson(value: Any, indent: int | None = None) -> str:
    # jinja's own tojson escapes <>&' for HTML; here the text goes to shells and HTTP bodies.
    return json.dumps(value, indent=indent, ensure_ascii=False)


_PRECHECKS: dict[str, Callable[..., None] | None] = {
    "center": _center, "indent": _indent, "wordwrap": _wordwrap, "replace": _replace,
    "join": _join, "format": _format, "batch": _batch, "slice": _slice, "sum": _sum,
    "tojson": _tojson, "fromjson": _fromjson,
}
# Filters that walk their input: a string becomes a list of its characters first.
_ITERATING = frozenset(
    "batch dictsort groupby join list map reject rejectattr select selectattr slice sort "
    "unique".split()
)
_PLAIN = (
    "abs capitalize count default d dictsort filesizeformat first float groupby int items "
    "last length list lower map max min reject rejectattr reverse round select selectattr "
    "sort string title trim truncate unique upper urlencode wordcount"
).split()


def _guard(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    skip = 0 if _PassArg.from_obj(func) is None else 1  # context, eval context or environment
    precheck, iterating = _PRECHECKS.get(name), name in _ITERATING

    @wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        head, value, rest = args[:skip], concrete(args[skip]), args[skip + 1 :]
        if iterating and isinstance(value, str):
            need(len(value) * (ITEM + 1))
        if precheck is not None:
            precheck(value, *rest, **kwargs)
        return settle(func(*head, value, *rest, **kwargs))

    return guarded


def bounded_filters() -> dict[str, Callable[..., Any]]:
    """The filter table of the expression environment: the whitelist, each one guarded."""
    own: dict[str, Callable[..., Any]] = {"tojson": tojson, "fromjson": json.loads}
    table = {}
    for name in [*_PRECHECKS, *_PLAIN]:
        func = own.get(name) or jf.FILTERS[name]
        table[name] = _guard(name, func)
    return table
