"""Reading a template's JSON or YAML text into a mapping, before any model sees it."""

from __future__ import annotations

import json
from typing import Any

import yaml

from wfe.engine import strictjson
from wfe.errors import BadRequest, UnsupportedMediaType, ValidationFailed

_MAX_NODES = 100_000  # YAML aliases can make a 1 KiB document expand to gigabytes


def load_template_text(text: str | bytes, content_type: str) -> dict[str, Any]:
    """The mapping in a JSON or YAML body; BadRequest (with the line) when it cannot be read."""
    media = content_type.split(";")[0].strip().lower()
    is_json = media == "application/json" or media.endswith("+json")
    if not is_json and "yaml" not in media:
        raise UnsupportedMediaType("a template must be application/json or application/yaml")
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as e:
            raise BadRequest(f"the template is not UTF-8 text (byte {e.start})") from None
    data = _load_json(text) if is_json else _load_yaml(text)
    where = strictjson.nonfinite_path(data)  # YAML's .nan and .inf (JSON's are refused as it is read)
    if where is not None:
        raise ValidationFailed("invalid template", [
            {"path": where, "message": "NaN and Infinity are not JSON numbers"}])
    if not isinstance(data, dict):
        shown = "empty" if data is None else f"a {type(data).__name__}"
        raise BadRequest(f"a template must be a mapping (an object), not {shown}")
    return data


def _load_json(text: str) -> Any:
    try:
        return strictjson.loads(text)
    except strictjson.NonFiniteNumber as e:
        raise ValidationFailed("invalid template",
                               [{"path": "(body)", "message": str(e)}]) from None
    except json.JSONDecodeError as e:
        where = {"line": e.lineno, "column": e.colno}
        raise BadRequest(f"malformed JSON at line {e.lineno}, column {e.colno}: {e.msg}", where)


def _load_yaml(text: str) -> Any:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        problem = getattr(e, "problem", None) or str(e)
        if mark is None:
            raise BadRequest(f"malformed YAML: {problem}") from None
        where = {"line": mark.line + 1, "column": mark.column + 1}
        raise BadRequest(
            f"malformed YAML at line {mark.line + 1}, column {mark.column + 1}: {problem}", where
        ) from None
    if _too_big(data):
        raise BadRequest(f"the YAML expands to more than {_MAX_NODES} values (anchors and aliases)")
    return data


def _too_big(data: Any) -> bool:
    # Count the tree as the models would see it, stopping at the budget: aliases share nodes in
    # memory but every later walk (validation, JSON) expands them, and a cycle never ends.
    budget, stack = _MAX_NODES, [data]
    while stack:
        budget -= 1
        if budget < 0:
            return True
        node = stack.pop()
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False
