"""Reading a template's JSON or YAML text into a mapping, before any model sees it."""

from __future__ import annotations

from typing import Any

import yaml

from wfe.engine import jsontext, strictjson
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
    # YAML's .nan and .inf (JSON's are refused as it is read)
    where = strictjson.nonfinite_path(data)
    if where is not None:
        raise ValidationFailed("invalid template", [
            {"path": where, "message": "NaN and Infinity are not JSON numbers"}])
    if not isinstance(data, dict):
        shown = "empty" if data is None else f"a {type(data).__name__}"
        raise BadRequest(f"a template must be a mapping (an object), not {shown}")
    return data


def _load_json(text: str) -> Any:
    return jsontext.loads(text, "the template")


class _Loader(yaml.SafeLoader):
    """PyYAML's composer recurses once per level of nesting: refuse a deep document while
    composing it, before the stack runs out (aliases are bounded after, by _too_big)."""

    depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self.depth += 1
        try:
            if self.depth > jsontext.MAX_DEPTH:
                raise jsontext.too_deep()
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def _load_yaml(text: str) -> Any:
    loader = _Loader(text)
    try:
        data = loader.get_single_data()
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        problem = getattr(e, "problem", None) or str(e)
        if mark is None:
            raise BadRequest(f"malformed YAML: {problem}") from None
        where = {"line": mark.line + 1, "column": mark.column + 1}
        raise BadRequest(
            f"malformed YAML at line {mark.line + 1}, column {mark.column + 1}: {problem}", where
        ) from None
    finally:
        loader.dispose()
    if _too_big(data):
        raise BadRequest(f"the YAML expands to more than {_MAX_NODES} values (anchors and aliases)")
    jsontext.check(data)  # an alias can nest deeper than the text does
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
