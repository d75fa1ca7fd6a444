"""What starting a run takes before it is written: the same for POST /workflows and for a
workflow step's child run (a schedule's fire, inside the writer, uses run_parts alone)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wfe.daemon.secrets import seal_inputs_async
from wfe.daemon.store.util import new_id
from wfe.engine.run_parts import run_parts

if TYPE_CHECKING:
    from wfe.daemon.supervisor import Supervisor


@dataclass(frozen=True)
class NewRun:
    run_id: str
    template: dict[str, Any]  # id, name, version
    steps: list[tuple[str, str, tuple[str, ...]]]  # name, kind, needs
    inputs: dict[str, Any]  # validated, secret ones sealed to run_id


async def prepare_run(sup: Supervisor, row: dict, raw_input: dict[str, Any],
                      owner: str) -> NewRun:
    """Validate ``raw_input`` against the template's variables (422 naming each bad one),
    render its concurrency key, and seal its secret values to the new run's id, which is
    why the id comes first."""
    spec = sup.template_spec(row["id"], row["spec"])
    run_id = new_id()
    template, steps, inputs = run_parts(spec, row, raw_input, {"id": run_id, "owner": owner},
                                        sup.settings.max_expression_bytes)
    inputs = await seal_inputs_async(spec.variables, inputs, sup.sealer, run_id)
    return NewRun(run_id=run_id, template=template, steps=steps, inputs=inputs)
