"""Bounds on data a user sends as JSON or YAML, checked before anything else sees it.

NaN and Infinity are refused (see strictjson). So are two more shapes of value that parse
yet break everything after: nesting so deep that each later walk (validation, json.dumps,
SQLite's JSON functions) overflows the stack, and a lone UTF-16 surrogate (JSON's
``"\\ud800"``), a str that cannot be encoded as UTF-8 and so cannot be stored, logged or put
in an environment. Each is refused here, naming where it is.
"""

from __future__ import annotations

import json
import re
from typing import Any

from wfe.engine import strictjson
from wfe.errors import BadRequest, ValidationFailed

MAX_DEPTH = 64
_SURROGATE = re.compile("[\ud800-\udfff]")
# In JSON text a surrogate can only come from an escape: the text itself is strict UTF-8.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def too_deep() -> BadRequest:
    return BadRequest(f"the data is nested more than {MAX_DEPTH} levels deep",
                      {"max_depth": MAX_DEPTH})


def loads(raw: bytes | str, what: str = "the body") -> Any:
    """JSON text as Python values, refused (400 or 422) when malformed, too deep, or holding
    a lone surrogate. Walks the values only when the text could hold either."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadRequest(f"{what} is not UTF-8 text (byte {exc.start})") from None
    try:
        value = strictjson.loads(raw)
    except strictjson.NonFiniteNumber as exc:  # no answer may carry one back
        raise ValidationFailed(f"{what} is not strict JSON: {exc}",
                               [{"path": "(body)", "message": str(exc)}]) from None
    except RecursionError:
        raise too_deep() from None
    except json.JSONDecodeError as exc:
        raise BadRequest(f"malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}",
                         {"line": exc.lineno, "column": exc.colno}) from None
    if raw.count("[") + raw.count("{") > MAX_DEPTH or _SURROGATE_ESCAPE.search(raw):
        check(value)
    return value


def check(value: Any) -> None:
    """Refuse nesting deeper than MAX_DEPTH (400) and lone surrogates in any key or string
    (422, with each one's path). Iterative: the value may be deeper than the stack."""
    bad: list[dict[str, str]] = []
    stack: list[tuple[Any, int, str]] = [(value, 1, "")]
    while stack:
        node, depth, path = stack.pop()
        if isinstance(node, str):
            if not node.isascii() and _SURROGATE.search(node):
                bad.append({"path": path or "(body)", "message": _SURROGATE_TEXT})
            continue
        if not isinstance(node, (dict, list)):
            continue
        if depth > MAX_DEPTH:
            raise too_deep()
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, item in items:
            where = _join(path, key)
            if isinstance(key, str) and not key.isascii() and _SURROGATE.search(key):
                bad.append({"path": where, "message": _SURROGATE_TEXT})
            stack.append((item, depth + 1, where))
    if bad:
        raise ValidationFailed("text is not valid Unicode", bad[:20])


_SURROGATE_TEXT = "holds a lone UTF-16 surrogate (such as \\ud800), which is not Unicode text"


def _join(path: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    if isinstance(key, str) and re.fullmatch(r"[A-Za-z0-9_-]+", key):
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(str(key))}]"  # ASCII: a surrogate is shown as \udfff
