"""The checks of a template's failure handlers: `undo` on steps, `on_failure` and `finally`.

Handlers run after the run's main graph ended, one at a time in the order
wfe.engine.handlers gives, so:
- they have no `needs` (their order is fixed) and no `undo` of their own;
- they are run, http or set steps: a gate, a callback or a sleep would wait on a run that has
  already ended; they get one attempt each (no `retry`);
- their expressions may read every main step (`steps.X`, whatever X's place in the graph;
  a step that did not run reads as empty) and how the run ended (`run.status`,
  `run.reason`, `run.failed_step`, `run.error`);
- `undo` belongs on the steps that change something outside wfe: run, http and callback.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from wfe.engine.expr_check import HANDLER_RUN_FIELDS
from wfe.engine.spec_check import _check_applicable, _check_expressions, _check_kind
from wfe.engine.spec_models import step_kinds

HANDLER_KINDS = ("run", "http", "set")
Scope = tuple[set[str], set[str], set[str]]  # variables, readable steps, callback steps
UNDOABLE_KINDS = ("run", "http", "callback")


def check_handlers(data: dict[str, Any], steps: list[Any], variables: set[str],
                   add: Callable[[str, str], None], limit: int) -> None:
    main = [s for s in steps if isinstance(s, dict)]
    names = {s["name"] for s in main if isinstance(s.get("name"), str)}
    callbacks = {s["name"] for s in main if isinstance(s.get("name"), str)
                 and step_kinds(s) == ["callback"]}
    scope = (variables, names, callbacks)
    for i, raw in enumerate(steps):
        if isinstance(raw, dict) and raw.get("undo") is not None:
            _check_undo(raw, f"steps[{i}]", scope, add, limit)
    seen = {n: f"steps[{i}]" for i, s in reversed(list(enumerate(steps)))
            if isinstance(s, dict) and isinstance(n := s.get("name"), str)}
    for role in ("on_failure", "finally"):
        handlers = data.get(role)
        if not isinstance(handlers, list):
            continue
        for i, raw in enumerate(handlers):
            if not isinstance(raw, dict):
                continue
            path, name = f"{role}[{i}]", raw.get("name")
            if isinstance(name, str):
                if name in seen:
                    add(f"{path}.name", f"duplicate step name '{name}' (also {seen[name]});"
                        " handler names are unique across the template")
                else:
                    seen[name] = path
            for key in ("needs", "undo"):
                if raw.get(key) is not None:
                    add(f"{path}.{key}", f"{role} steps have no {key}: handlers run one at a"
                        " time in list order, after the run ended")
            _check_body(raw, path, scope, add, limit)


def _check_undo(step: dict[str, Any], path: str, scope: Scope, add: Any, limit: int) -> None:
    kinds = step_kinds(step)
    if len(kinds) == 1 and kinds[0] not in UNDOABLE_KINDS:
        add(f"{path}.undo", f"undo is only for {', '.join(UNDOABLE_KINDS)} steps (a {kinds[0]}"
            " step changes nothing to compensate)")
    body = step["undo"]
    if isinstance(body, dict):
        _check_body(body, f"{path}.undo", scope, add, limit)


def _check_body(raw: dict[str, Any], path: str, scope: Scope, add: Any, limit: int) -> None:
    kind = _check_kind(raw, path, add)
    if kind and kind not in HANDLER_KINDS:
        add(path, f"a handler is a {', '.join(HANDLER_KINDS)} step, not {kind}: the run has"
            " ended, nothing may wait on it")
    elif kind:
        _check_applicable(raw, kind, path, add)
    if raw.get("retry") is not None:
        add(f"{path}.retry", "a handler is tried once: it has no retry")
    _check_expressions(raw, path, scope, add, limit, run_fields=HANDLER_RUN_FIELDS)
