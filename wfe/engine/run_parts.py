"""What creating a run needs from its template, for both ways to start one (a request and
a schedule's fire): the input checked against the variables, and the steps as a graph."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wfe.engine.inputs import validate_inputs
from wfe.engine.spec import TemplateSpec


def run_parts(spec: TemplateSpec, row: Mapping[str, Any], raw_input: dict[str, Any]
              ) -> tuple[dict[str, Any], list[tuple[str, str, tuple[str, ...]]], dict[str, Any]]:
    """(template ref, steps, validated input); ValidationFailed names each bad input."""
    inputs = validate_inputs(spec.variables, raw_input)
    template = {"id": row["id"], "name": row["name"], "version": row["version"]}
    if spec.handler_steps:
        template["handlers"] = [(h.name, role, target, h.kind)
                                for role, target, h in spec.handler_steps]
    needs = spec.needs
    steps = [(s.name, s.kind, needs[s.name]) for s in spec.steps]
    return template, steps, inputs
