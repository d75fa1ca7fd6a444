"""What creating a run needs from its template, for both ways to start one (a request and
a schedule's fire): the input checked against the variables, and the steps as a graph."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wfe.engine.concurrency import group_of, render_key
from wfe.engine.expr_limits import MAX_EXPRESSION_BYTES
from wfe.engine.inputs import validate_inputs
from wfe.engine.spec import TemplateSpec


def run_parts(spec: TemplateSpec, row: Mapping[str, Any], raw_input: dict[str, Any],
              run: Mapping[str, Any] | None = None, limit: int = MAX_EXPRESSION_BYTES,
              ) -> tuple[dict[str, Any], list[tuple[str, str, tuple[str, ...]]], dict[str, Any]]:
    """(template ref, steps, validated input); ValidationFailed names each bad input.

    ``run``: the new run's ``{id, owner}``, given when the run is about to be created: its
    concurrency key is rendered from them and the input (before secrets are sealed)."""
    inputs = validate_inputs(spec.variables, raw_input)
    template = {"id": row["id"], "name": row["name"], "version": row["version"]}
    if spec.handler_steps:
        template["handlers"] = [(h.name, role, target, h.kind)
                                for role, target, h in spec.handler_steps]
    if spec.concurrency is not None and run is not None:
        ctx = {"input": inputs, "run": {"id": run["id"], "owner": run["owner"],
                                        "template": row["name"], "version": row["version"]}}
        key = render_key(spec.concurrency, ctx, limit)
        template["concurrency"] = {"group": group_of(row["name"], key), "key": key,
                                   "limit": spec.concurrency.limit,
                                   "on_conflict": spec.concurrency.on_conflict}
    needs = spec.needs
    steps = [(s.name, s.kind, needs[s.name]) for s in spec.steps]
    return template, steps, inputs
