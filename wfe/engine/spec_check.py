"""parse_template(): the models plus every check they cannot make, as one list of paths.

Each problem carries a path such as ``steps[2].run``; pydantic's errors are reworded into the
same shape so that the whole list reads alike.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Container, Iterator
from typing import Any

from pydantic import BaseModel, ValidationError

from wfe.engine import expressions, graph
from wfe.engine.concurrency import ConcurrencySpec, check_key
from wfe.engine.expr_limits import MAX_EXPRESSION_BYTES
from wfe.engine.fieldtext import field_message
from wfe.engine.inputs import coerce_value
from wfe.engine.spec_models import (
    KINDS,
    NAME_RULES,
    RETRYABLE_KINDS,
    ApprovalSpec,
    CallbackSpec,
    DefaultsSpec,
    HttpSpec,
    RetrySpec,
    StepSpec,
    TemplateSpec,
    Variable,
    WorkflowSpec,
    step_kinds,
)
from wfe.errors import ValidationFailed

FANOUT_KINDS = ("run", "http", "set")  # the kinds a foreach may repeat


def parse_template(data: Any, max_expression_bytes: int = MAX_EXPRESSION_BYTES,
                   max_steps: int | None = None) -> TemplateSpec:
    """The template in ``data``, or ValidationFailed("template is invalid") listing every error.

    A constant expression (one that reads no data) over ``max_expression_bytes`` is an error.
    ``max_steps`` refuses a longer template before any check runs, whose time grows with it.
    """
    if not isinstance(data, dict):
        raise ValidationFailed(
            "template is invalid", [{"path": "", "message": "a template must be a mapping"}]
        )
    steps = data.get("steps")
    if max_steps is not None and isinstance(steps, list) and len(steps) > max_steps:
        raise ValidationFailed("template is too long", [{
            "path": "steps", "message": f"{len(steps)} steps; a template may have at most "
            f"{max_steps} (the daemon's max_template_steps setting)"}])
    details: list[dict[str, str]] = []
    spec: TemplateSpec | None = None
    try:
        spec = TemplateSpec.model_validate(data)
    except ValidationError as e:
        details.extend(_pydantic_details(e))
    details.extend(_semantic_errors(data, max_expression_bytes))
    unique = sorted({(d["path"], d["message"]): d for d in details}.values(), key=_path_order)
    if unique or spec is None:
        raise ValidationFailed("template is invalid", unique)
    return spec


def _path_order(detail: dict[str, str]) -> list[tuple[int, str | int]]:
    # steps[2] before steps[10]; sorted() is stable, so one path's messages keep their order.
    tokens = re.findall(r"\d+|[^\d\[\].]+", detail["path"])
    return [(0, int(t)) if t.isdigit() else (1, t) for t in tokens]


def path_of(loc: tuple[Any, ...] | list[Any]) -> str:
    """("steps", 2, "run") -> "steps[2].run"; a key that is not a plain word is quoted."""
    out = ""
    for part in loc:
        if part != "[key]":  # pydantic's marker for "the key itself", already named by the path
            out = _join(out, part)
    return out


def _join(path: str, part: Any) -> str:
    if isinstance(part, int) and not isinstance(part, bool):
        return f"{path}[{part}]"
    if re.fullmatch(r"[A-Za-z0-9_-]+", str(part)):
        return f"{path}.{part}" if path else str(part)
    return f"{path}[{json.dumps(str(part))}]"


def _pydantic_details(error: ValidationError) -> Iterator[dict[str, str]]:
    for e in error.errors(include_url=False):
        loc, kind = tuple(e["loc"]), e["type"]
        message = field_message(e)
        if kind == "extra_forbidden":
            message = _unknown_field(loc)
        elif kind in ("model_type", "dict_type"):
            message = "expected a mapping"
        yield {"path": path_of(loc), "message": message}


def _unknown_field(loc: tuple[Any, ...]) -> str:
    model = _model_at(loc[:-1])
    names = [f.alias or n for n, f in model.model_fields.items()] if model else []
    close = difflib.get_close_matches(str(loc[-1]), names, n=1)
    return f"unknown field; did you mean '{close[0]}'?" if close else (
        "unknown field; expected one of: " + ", ".join(names) if names else "unknown field"
    )


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """Which model a location's mapping is, to suggest field names."""
    shapes: dict[tuple[str, ...], type[BaseModel]] = {
        (): TemplateSpec, ("steps",): StepSpec, ("variables",): Variable,
        ("defaults",): DefaultsSpec, ("defaults", "retry"): RetrySpec,
        ("steps", "retry"): RetrySpec, ("steps", "http"): HttpSpec,
        ("steps", "approval"): ApprovalSpec, ("steps", "callback"): CallbackSpec,
        ("steps", "workflow"): WorkflowSpec, ("concurrency",): ConcurrencySpec,
    }
    if loc[:1] == ("variables",):
        loc = loc[:1] + loc[2:]  # drop the variable's own name
    return shapes.get(tuple(str(p) for p in loc if not isinstance(p, int)))


def _semantic_errors(data: dict[str, Any], limit: int) -> list[dict[str, str]]:
    """What the models cannot see on their own: names, kinds, cross-references, expressions."""
    errors: list[dict[str, str]] = []

    def add(path: str, message: str) -> None:
        errors.append({"path": path, "message": message})

    variables = data.get("variables")
    variables = variables if isinstance(variables, dict) else {}
    for name, raw in variables.items():
        _check_variable(str(name), raw, add)
    steps = data.get("steps", ...)
    if steps is None or steps == []:
        add("steps", "at least one step is required")
    declared = data.get("secrets")
    declared = {str(n) for n in declared} if isinstance(declared, list) else None
    if isinstance(steps, list):
        _check_steps(steps, {str(n) for n in variables}, add, limit, declared)
        from wfe.engine.spec_handlers import check_handlers  # it builds on this module

        check_handlers(data, steps, {str(n) for n in variables}, add, limit)
    if isinstance(data.get("concurrency"), dict):
        check_key(data["concurrency"].get("key"), variables, add, limit)
    return errors


def _check_variable(name: str, raw: Any, add: Any) -> None:
    path = _join("variables", name)
    pattern, words = NAME_RULES["variable"]
    if not re.fullmatch(pattern, name):
        add(path, f"invalid variable name: use {words} (at most 64)")
    try:
        var = Variable.model_validate({} if raw is None else raw)
    except ValidationError:
        return  # already reported, field by field
    if var.type == "enum" and not var.values:
        add(f"{path}.values", "an enum needs a non-empty list of values")
    if var.type != "enum" and var.values is not None:
        add(f"{path}.values", "values are only for type enum")
    if var.has_default:
        try:
            coerce_value(var.type, var.default, var.values, from_text=False)
        except ValueError as e:
            add(f"{path}.default", f"the default does not fit type {var.type}: {e}")
        if var.required:
            add(f"{path}.required", "a variable with a default cannot be required")


def _check_steps(steps: list[Any], variables: set[str], add: Any, limit: int,
                 secrets: set[str] | None = None) -> None:
    callbacks = {
        s["name"] for s in steps if isinstance(s, dict) and isinstance(s.get("name"), str)
        and step_kinds(s) == ["callback"]
    }
    needs = _check_needs(steps, add)
    fanouts = {s["name"] for s in steps if isinstance(s, dict)
               and isinstance(s.get("name"), str) and s.get("foreach") is not None}
    first_index: dict[str, int] = {}
    for i, raw in enumerate(steps):
        if not isinstance(raw, dict):
            continue
        path, name = f"steps[{i}]", raw.get("name")
        if isinstance(name, str) and name in first_index:
            add(f"{path}.name", f"duplicate step name '{name}' (also steps[{first_index[name]}])")
        kind = _check_kind(raw, path, add)
        if kind:
            _check_applicable(raw, kind, path, add)
            _check_foreach(raw, kind, path, add)
        # What the step may read: its upstream steps, found on demand (a set per step would
        # make a long template quadratic).
        readable: Container[str] = graph.Upstream(needs, name) if isinstance(name, str) else ()
        _check_expressions(raw, path, (variables, readable, callbacks), add, limit, secrets,
                           fanouts)
        if isinstance(name, str):
            first_index.setdefault(name, i)


def _check_needs(steps: list[Any], add: Any) -> dict[str, tuple[str, ...]]:
    """The graph's edges; unknown names and cycles are errors naming the step."""
    # A repeated name is its own error; the graph is drawn from each name's first step.
    firsts = {s["name"]: i for i, s in reversed(list(enumerate(steps)))
              if isinstance(s, dict) and isinstance(s.get("name"), str)}
    named = [(i, steps[i]) for i in sorted(firsts.values())]
    given = [s.get("needs") if isinstance(s.get("needs"), list) else None for _, s in named]
    needs = graph.needs_of([(s["name"], [n for n in g if isinstance(n, str)] if g is not None
                             else None) for (_, s), g in zip(named, given, strict=True)])
    where = firsts
    for step, unknown in graph.unknown_needs(needs):
        what = "itself" if unknown == step else f"'{unknown}', which is not a step"
        add(f"steps[{where[step]}].needs", f"step '{step}' needs {what}")
    known = {s: tuple(n for n in ns if n in needs and n != s) for s, ns in needs.items()}
    cycle = graph.find_cycle(known)
    if cycle:
        add(f"steps[{where[cycle[0]]}].needs",
            "the steps' needs form a cycle: " + " -> ".join(cycle))
    return known


def _check_kind(raw: dict[str, Any], path: str, add: Any) -> str | None:
    given = step_kinds(raw)
    if not given:
        add(path, "unknown step kind; expected one of: " + ", ".join(KINDS))
        return None
    if len(given) > 1:
        add(path, f"a step has exactly one of {', '.join(KINDS)}; this one has "
            + " and ".join(given))
        return None
    explicit = raw.get("kind")
    if explicit in KINDS and explicit != given[0]:
        add(f"{path}.kind", f"kind '{explicit}' does not match the step's '{given[0]}' key")
    return given[0]


def _check_applicable(raw: dict[str, Any], kind: str, path: str, add: Any) -> None:
    for key in ("env", "cwd", "keep_background"):
        if raw.get(key) is not None and kind != "run":
            add(f"{path}.{key}", f"{key} is only for run steps")
    if raw.get("retry") is not None and kind not in RETRYABLE_KINDS:
        add(f"{path}.retry", "retry is only for run, http, callback and workflow steps")
    if kind == "workflow" and raw.get("timeout") is not None:
        add(f"{path}.timeout", "a workflow step waits for its run; give the child template"
            " a timeout instead")
    if kind == "callback":
        given = raw.get("callback")
        gate = given if isinstance(given, dict) else {}
        if gate.get("timeout") is None and raw.get("timeout") is None:
            add(f"{path}.callback.timeout", "a callback step needs a timeout")


def _check_foreach(raw: dict[str, Any], kind: str, path: str, add: Any) -> None:
    name = raw.get("name")
    if raw.get("foreach") is None:
        for key in ("concurrency", "fail_fast"):
            if raw.get(key) is not None:
                add(f"{path}.{key}", f"{key} is only for a step with foreach")
        return
    if kind not in FANOUT_KINDS:
        add(f"{path}.foreach", f"foreach is only for {', '.join(FANOUT_KINDS)} steps")
    value = raw["foreach"]
    if isinstance(value, str) and not expressions.has_expressions(value):
        add(f"{path}.foreach", "foreach takes a list or an expression giving one,"
            " e.g. ${{ input.hosts }}")
    concurrency = raw.get("concurrency")
    if isinstance(concurrency, int) and not isinstance(concurrency, bool) and concurrency < 1:
        add(f"{path}.concurrency",
            f"step '{name}': concurrency must be at least 1 (got {concurrency})")


def _check_expressions(
    raw: dict[str, Any], path: str, names: tuple[set[str], Container[str], set[str]], add: Any,
    limit: int, secrets: set[str] | None = None, fanouts: Container[str] = (),
    run_fields: tuple[str, ...] = expressions.RUN_FIELDS,
) -> None:
    fields: list[tuple[str, Any]] = [(k, raw.get(k)) for k in ("run", "env", "cwd", "set")]
    if isinstance(raw.get("workflow"), dict):
        fields.append(("workflow.input", raw["workflow"].get("input")))
    for parent in ("http", "approval"):
        if isinstance(raw.get(parent), dict):
            fields += [(f"{parent}.{k}", v) for k, v in raw[parent].items()
                       if k in ("url", "headers", "json", "message")]
    for field, value in fields:
        for where, text, is_key in _strings(value, f"{path}.{field}"):
            if is_key:
                add(where, "expressions are not allowed in keys")
                continue
            loop = raw.get("foreach") is not None
            for message in expressions.check(text, *names, limit=limit, secrets=secrets,
                                             loop=loop, fanouts=fanouts, run_fields=run_fields):
                add(where, message)
    for where, text, _ in _strings(raw.get("foreach"), f"{path}.foreach"):
        for message in expressions.check(text, *names, limit=limit, fanouts=fanouts):
            add(where, message)
    if isinstance(raw.get("run"), str):
        for message in expressions.check_shell(raw["run"]):
            add(f"{path}.run", message)
    if isinstance(raw.get("if"), (str, bool)):
        for message in expressions.check_condition(raw["if"], *names, limit=limit,
                                                   secrets=secrets, fanouts=fanouts,
                                                   run_fields=run_fields):
            add(f"{path}.if", message)


def _strings(value: Any, path: str) -> Iterator[tuple[str, str, bool]]:
    """Every string inside ``value`` with its path, and whether it is a mapping key."""
    if isinstance(value, str):
        yield path, value, False
    elif isinstance(value, dict):
        for key, item in value.items():
            where = _join(path, key)
            if isinstance(key, str) and expressions.has_expressions(key):
                yield where, key, True
            yield from _strings(item, where)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(item, f"{path}[{i}]")
