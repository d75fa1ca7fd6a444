"""The wire contract of templates and runs: steps, items, events, approvals, attempts,
handlers, snapshots, rollback and callbacks."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from wfe.engine.concurrency import ConcurrencySpec
from wfe.engine.spec_models import DefaultsSpec, OnTimeout, StepSpec, Variable
from wfe.engine.spec_models import Duration as SpecDuration
from wfe.engine.states import RunStatus, StepStatus
from wfe.models.base import (
    ApprovalStatus,
    HandlerRole,
    HandlersPhase,
    HandlerStatus,
    ItemStatus,
    Model,
    Response,
    TemplateStatus,
    TriggerType,
)
from wfe.wire import DocumentedAs, Timestamp, Uuid

# ---- templates --------------------------------------------------------------------------

class Template(Response):
    id: Uuid
    name: str
    version: int
    status: TemplateStatus
    description: str = ""
    # Served as stored (the body's normal form: what the request gave, nulls left out) and
    # documented with the schemas the request was validated with.
    variables: Annotated[dict[str, Any], DocumentedAs(dict[str, Variable])] = {}
    steps: Annotated[list[dict[str, Any]], DocumentedAs(list[StepSpec])]
    defaults: Annotated[dict[str, Any], DocumentedAs(DefaultsSpec)] | None = None
    timeout: Annotated[str | float, DocumentedAs(SpecDuration)] | None = None
    concurrency: Annotated[dict[str, Any], DocumentedAs(ConcurrencySpec)] | None = Field(
        None, description="at most limit runs per rendered key")
    retention: Annotated[str | float, DocumentedAs(SpecDuration)] | None = Field(
        None, description="how long its ended runs are kept (overrides the daemon's)")
    owner: str
    created_at: Timestamp
    published_at: Timestamp | None = None


class TemplateWarning(Response):
    path: str = Field(description="where in the template, e.g. steps[0].run")
    step: str
    expression: str = Field(description="the expression as written, e.g. ${{ input.x }}")
    message: str


class CreatedTemplate(Template):
    warnings: list[TemplateWarning] = Field(
        [], description="valid but risky: e.g. an expression inside sh -c '...', which a "
        "second shell reads again, unprotected by wfe's quoting")


# ---- runs -------------------------------------------------------------------------------

class StartRun(Model):
    template_id: str | None = Field(None, max_length=200)
    template: str | None = Field(None, max_length=200, description="NAME or NAME@VERSION")
    input: dict[str, Any] = {}
    trigger_type: TriggerType = "api"
    callback_url: str | None = Field(None, max_length=2000,
                                     description="every event of this run is POSTed here")


class CancelRun(Model):
    reason: str | None = Field(None, max_length=2000)


class TemplateRef(Response):
    id: Uuid
    name: str
    version: int


class QueuedBehind(Response):
    """Why a pending run waits: its template's concurrency group is at its limit."""

    key: str | None = Field(description="the group's rendered concurrency key (null: the"
                                        " template has no key, so all its runs are one group)")
    limit: int = Field(description="how many runs of the group may execute at once")
    position: int = Field(description="its place in line: 1 is the next to start")
    running: list[Uuid] = Field(description="the runs holding the group's slots, oldest first")


class Step(Response):
    index: int
    name: str
    kind: str
    status: StepStatus
    attempt: int
    started_at: Timestamp | None = None
    finished_at: Timestamp | None = None
    output: Any = None
    error: str | None = None
    exit_code: int | None = None
    log_tail: str | None = None
    wake_at: Timestamp | None = None
    needs: list[str] = Field([], description="the steps this one starts after")
    child_run_id: Uuid | None = Field(None, description="a workflow step's run of its child"
                                                        " template (the latest attempt's)")
    attempts: list[Attempt] = []
    items: ItemProgress | None = Field(
        None, description="a foreach step's items, once its list was evaluated (else null)")


class ItemProgress(Response):
    total: int
    succeeded: int
    failed: int
    running: int


class StepItem(Response):
    """One item of a foreach step."""

    index: int
    item: Any = Field(None, description="the list's element")
    status: ItemStatus
    attempt: int
    output: Any = None
    error: str | None = None
    exit_code: int | None = None
    started_at: Timestamp | None = None
    finished_at: Timestamp | None = None


class Event(Response):
    seq: int
    type: str
    actor: str
    at: Timestamp
    data: dict[str, Any]


class Decision(Model):
    comment: str | None = Field(None, max_length=10000)


class Approval(Response):
    id: Uuid
    run_id: Uuid
    step: str
    status: ApprovalStatus
    message: str
    approvers: list[str]
    on_timeout: OnTimeout
    requested_at: Timestamp
    expires_at: Timestamp | None = None
    decided_by: str | None = None
    decided_at: Timestamp | None = None
    comment: str | None = None
    template: TemplateRef | None = None
    age_seconds: float | None = None


class Attempt(Response):
    attempt: int
    status: str
    started_at: Timestamp
    finished_at: Timestamp | None = None
    duration: float | None = None
    exit_code: int | None = None
    error: str | None = None
    log_tail: str | None = None


class HandlerStep(Response):
    name: str = Field(description="an undo is named <step>.undo")
    role: HandlerRole
    target: str | None = Field(None, description="the main step an undo compensates")
    kind: str
    status: HandlerStatus
    attempt: int
    started_at: Timestamp | None = None
    finished_at: Timestamp | None = None
    output: dict[str, Any] | None = None
    error: str | None = None
    exit_code: int | None = None
    log_tail: str | None = None


class RunHandlers(Response):
    status: HandlersPhase = Field(
        description="waiting: the run has not ended; pending/running: they run now, after the"
                    " run ended (its status does not change); done: each had its turn")
    failed: list[str] = Field(description="the handlers that failed")
    steps: list[HandlerStep]


class Run(Response):
    id: Uuid
    status: RunStatus
    template: TemplateRef
    trigger_type: str = Field(description="api, cli, schedule, or workflow (a workflow step"
                                          " started it)")
    parent_run_id: Uuid | None = Field(None, description="the run whose workflow step started"
                                                         " this one")
    parent_step: str | None = Field(None, description="the name of that step")
    schedule_id: Uuid | None = Field(None, description="the schedule that started it")
    scheduled_for: Timestamp | None = Field(None, description="when its schedule was due (a"
                                                         " catch-up run's missed time)")
    input: dict[str, Any]
    owner: str
    reason: str | None = None
    current_step: int = Field(description="the first step not done yet (the step count once"
                                          " all are)")
    current_steps: list[int] | None = Field(
        None, description="the steps executing or waiting now (with steps, in a run's detail)")
    current_step_name: str | None = Field(None, description="the name of the step at"
                                                            " current_step")
    created_at: Timestamp
    started_at: Timestamp | None = None
    finished_at: Timestamp | None = None
    updated_at: Timestamp
    steps: list[Step] | None = None
    events: list[Event] | None = None
    approvals: list[Approval] | None = None
    handlers: RunHandlers | None = Field(
        None, description="the run's undo, on_failure and finally steps (in a run's detail;"
                          " null when its template has none)")
    callback_secret: str | None = Field(None, description="the callback_url's signing secret;"
                                                           " in the start answer only")
    queued_behind: QueuedBehind | None = Field(
        None, description="set while the run waits for a slot of its template's concurrency"
                          " group; null otherwise")


class RunDeleted(Response):
    run_id: Uuid
    deleted: list[Uuid] = Field(description="the run and every run below it (its sub-workflows)")
    events: int = Field(description="how many events the run's audit chain had")
    head: str = Field(description="the hash of its last event, as recorded in the global audit"
                                  " log (GET /api/v1/audit/events, type run.deleted)")


class Snapshot(Response):
    id: Uuid
    after_step: int
    step: str
    state: dict[str, Any]
    created_at: Timestamp


class RollbackRequest(Model):
    snapshot_id: str | None = Field(None, max_length=100)
    step: str | None = Field(None, max_length=100)
    dry_run: bool = False


class RollbackResult(Response):
    run: Run
    rerun_steps: list[str]
    dry_run: bool


class CallbackAccepted(Response):
    accepted: bool
    consumed: bool = Field(description="true when the waiting step took it at once; false when"
                                        " it is kept until the run reaches the step")
