"""A workflow step's turn: start its child run, then wait for it with no Runner.

The child's end settles the step in the store (wfe.daemon.store.ops_children.child_ended),
in the transaction that records the end, and wakes this run; nothing here waits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wfe.daemon.faults import fault
from wfe.daemon.launch import prepare_run
from wfe.daemon.store import ops_children
from wfe.engine.expressions import render
from wfe.engine.spec_models import split_template_ref
from wfe.errors import ConcurrencyLimit, ValidationFailed, WfeError

if TYPE_CHECKING:
    from wfe.daemon.runner import Runner
    from wfe.daemon.runner_steps import StepDriver


async def start_child(d: StepDriver, idx: int) -> bool:
    """Create the child run and put the step to wait for it (one transaction); False when
    the run is no longer `running`."""
    step = d.spec.steps[idx]
    assert step.workflow is not None  # the field that makes it a workflow step
    try:
        row = _template(d, step.workflow.template)
        raw = render(step.workflow.input, d.expr_context(), d.expr_limit)
        _no_secret_leaks(d, row, raw)
        new = await prepare_run(d.sup, row, raw, d.run_meta["owner"])
    except WfeError as exc:
        return await d._fail_before_start(idx, _error_text(exc))
    displaced: list[str] = []  # runs cancelled to make room for the child (concurrency)
    child = {"template": new.template, "steps": new.steps, "input": new.inputs,
             "callback_key": d.sup.callback_key, "run_id": new.run_id, "displaced": displaced}
    try:
        attempt = await d.write(ops_children.start_child, d.run_id, idx, step.name,
                                d.sup.epoch, child, d.depth + 1)
    except ConcurrencyLimit as exc:  # the child's template rejects: nothing was written
        return await d._fail_before_start(idx, _error_text(exc))
    if attempt is None:
        return False
    fault("child_started")
    d.steps[idx].update(status="waiting", attempt=attempt, wake_at=None)
    for cancelled in displaced:
        d.sup.cancel(cancelled)
    d.sup.wake(new.run_id)
    return True


def _template(d: StepDriver, ref: str) -> dict:
    """The published template to start, within the depth cap; WfeError says why not."""
    cap = d.sup.settings.max_workflow_depth
    if d.depth + 1 > cap:
        raise WfeError(f"workflow depth cap: this run is at depth {d.depth} and may not start"
                       f" another (max_workflow_depth = {cap}); does a template start itself?")
    name, version = split_template_ref(ref)
    row = d.sup.store.read(ops_children.find_template, name, version)
    if row is None:
        raise WfeError(f"no published template {ref} (unknown, or not published yet)")
    return row


def _no_secret_leaks(d: StepDriver, row: dict, raw: Any) -> None:
    """A secret of this run may go only into a secret variable of the child, where it is
    sealed and masked again; anywhere else it would be stored in clear."""
    if not d.masker or not isinstance(raw, dict):
        return
    variables = d.sup.template_spec(row["id"], row["spec"]).variables
    for name, value in raw.items():
        secret = getattr(variables.get(name), "secret", False)
        if not secret and d.masker.value(value) != value:
            raise WfeError(f"input {name!r} of template {row['name']} carries a secret of this"
                           " run; make that variable secret: true")


def _error_text(exc: WfeError) -> str:
    text = str(exc)
    if isinstance(exc, ValidationFailed) and isinstance(exc.details, list):
        text += ": " + "; ".join(f"{e.get('path')}: {e.get('message')}" for e in exc.details
                                 if isinstance(e, dict))
    return text


def children_ended(r: Runner) -> None:
    """The Runner exits: a parent waiting for this run is woken (by the timer, which the
    store told in the run's last transaction), and a run that ended stops its children."""
    if r.parent_run_id is not None:
        r.sup.timer_poke()
    spec = getattr(r, "spec", None)  # unset when the run was not claimed
    if r.halted and spec is not None and any(s.kind == "workflow" for s in spec.steps):
        r.sup.cancel_children(r.run_id)
