"""The wire contract: every request and response body of the HTTP API.

The daemon validates requests with these models and serialises responses through them;
the OpenAPI document is generated from them. The CLI stays off pydantic for start-up time
and reads the same JSON as plain dicts.
"""

from __future__ import annotations

from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import TypeAliasType

from wfe.engine.concurrency import ConcurrencySpec
from wfe.engine.spec_models import DefaultsSpec, OnTimeout, StepSpec, Variable
from wfe.engine.spec_models import Duration as SpecDuration
from wfe.engine.states import RunStatus, StepStatus
from wfe.engine.webhooks import HEADER_NAME
from wfe.wire import DocumentedAs, OneOf, Timestamp, Uuid

T = TypeVar("T")
STORED_NAME = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"


class Model(BaseModel):
    # strict: a request says what it means; 0 is not false and 3 is not "3" (the document
    # promises those types, and schemathesis holds the daemon to it).
    model_config = ConfigDict(extra="forbid", strict=True)


class Response(BaseModel):
    model_config = ConfigDict(extra="ignore")


# ---- errors and lists -------------------------------------------------------------------

class FieldError(Response):
    """One invalid field, query parameter or header (the details of a 422)."""

    path: str = Field(description="where: steps[0].run, limit, Idempotency-Key, (body)")
    message: str


class ErrorDetail(Response):
    code: str
    message: str
    details: Annotated[list[FieldError] | dict[str, Any] | None, OneOf()] = Field(
        None, description="a 422's list of invalid fields; else facts about the error"
                          " (a 409's state, a 416's size, a 429's retry_after), or null")


class ErrorBody(Response):
    error: ErrorDetail


class Page(Response, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


# ---- health and users -------------------------------------------------------------------

class Health(Response):
    status: Literal["ok"] = "ok"
    version: str
    api_version: str
    live_runners: int
    pid: int
    started_at: Timestamp
    stopping: bool = False  # draining: no new step starts, running ones may finish


# Enums are named (TypeAliasType): each is a component of the document, an enum class of a
# generated client, instead of an inline list repeated at every use.
Role = TypeAliasType("Role", Literal["admin", "author", "operator"])
TemplateStatus = TypeAliasType("TemplateStatus", Literal["draft", "published", "archived"])
TriggerType = TypeAliasType("TriggerType", Literal["api", "cli"])
ItemStatus = TypeAliasType("ItemStatus",
                           Literal["pending", "running", "succeeded", "failed", "cancelled"])
ApprovalStatus = TypeAliasType(
    "ApprovalStatus", Literal["pending", "approved", "rejected", "expired", "cancelled"])
HandlerRole = TypeAliasType("HandlerRole", Literal["undo", "on_failure", "finally"])
HandlerStatus = TypeAliasType(
    "HandlerStatus", Literal["pending", "running", "succeeded", "failed", "skipped", "cancelled"])
HandlersPhase = TypeAliasType("HandlersPhase", Literal["waiting", "pending", "running", "done"])
Overlap = TypeAliasType("Overlap", Literal["skip", "allow", "buffer_one", "cancel_previous"])
Catchup = TypeAliasType("Catchup", Literal["none", "latest", "all"])
DeliveryStatus = TypeAliasType("DeliveryStatus", Literal["pending", "delivered", "failed"])
Scope = TypeAliasType("Scope", Literal["user", "global"])


class User(Response):
    id: Uuid
    name: str
    role: Role
    is_admin: bool = Field(description="role == admin (kept for older clients)")
    created_at: Timestamp


class CreateUser(Model):
    name: str = Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.@-]{0,63}$")
    role: Role | None = Field(None, description="default: operator (runs the catalog, "
                                                    "cannot write templates)")
    is_admin: bool = Field(False, description="the same as role admin (older clients)")


class UpdateUser(Model):
    role: Role


class UserWithToken(Response):
    user: User
    token: str


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


# ---- schedules --------------------------------------------------------------------------

Duration = str | float


class CreateSchedule(Model):
    template: str = Field(max_length=200, description="NAME (the latest published version at"
                                                      " each fire) or NAME@VERSION")
    input: dict[str, Any] = {}
    name: str | None = Field(None, max_length=100, pattern=r"^[^\x00-\x1f\x7f]*$",
                             description="default: the template's name")
    cron: str | None = Field(None, max_length=200, description="5 fields, or @hourly, @daily,"
                                                               " @weekly, @monthly, @yearly")
    tz: str | None = Field(None, max_length=100, description="an IANA zone for cron (default:"
                                                             " the daemon's)")
    every: Duration | None = Field(None, description="an interval instead of cron: 30s, 5m")
    offset: Duration | None = Field(None, description="with every: shift from the epoch's grid")
    overlap: Overlap = "skip"
    catchup: Catchup = "none"
    jitter: Duration | None = Field(None, description="delay each fire by a fixed part of this"
                                                      " (from the schedule's id)")
    paused: bool = False


class UpdateSchedule(Model):
    input: dict[str, Any] | None = None
    name: str | None = Field(None, max_length=100, pattern=r"^[^\x00-\x1f\x7f]*$")
    cron: str | None = Field(None, max_length=200)
    tz: str | None = Field(None, max_length=100)
    every: Duration | None = None
    offset: Duration | None = None
    overlap: Overlap | None = None
    catchup: Catchup | None = None
    jitter: Duration | None = None


class ScheduleEvent(Response):
    type: str = Field(description="schedule.skipped (with data.reason: overlap, missed, paused,"
                                  " error); fires are run events (schedule.fired)")
    at: Timestamp
    data: dict[str, Any]


class Schedule(Response):
    id: Uuid
    name: str
    owner: str
    template: str
    version: int | None = Field(None, description="null: the latest published version")
    input: dict[str, Any]
    cron: str | None = None
    tz: str | None = None
    every: float | None = None
    offset: float | None = None
    overlap: Overlap
    catchup: Catchup
    jitter: float
    paused: bool
    next_fire_at: Timestamp | None = Field(None, description="jitter included; null while"
                                                             " paused")
    last_fire_at: Timestamp | None = None
    last_run_id: Uuid | None = None
    last_run_status: RunStatus | None = None
    buffered_for: Timestamp | None = Field(None, description="a fire waiting for the run"
                                                             " before it")
    created_at: Timestamp
    updated_at: Timestamp
    events: list[ScheduleEvent] | None = Field(None, description="the latest skips (in get)")


# ---- webhooks ---------------------------------------------------------------------------

class SecretHeader(Model):
    """A header sent with every delivery, its value read from a stored secret of the
    webhook's owner (their own, else the global one) at each attempt: the value is never
    kept with the webhook nor answered."""

    name: str = Field(pattern=HEADER_NAME, description="the header's name, e.g. X-Token")
    secret: str = Field(pattern=STORED_NAME, description="the stored secret's name")
    prefix: str = Field("", max_length=100, pattern=r"^[ -~]*$",
                        description='put before the value, e.g. "Bearer "')


class CreateWebhook(Model):
    url: str = Field(max_length=2000)
    events: list[str] = Field(["*"], min_length=1, max_length=50,
                              description="event type patterns: run.*, approval.requested, *")
    secret: str | None = Field(None, max_length=200, description="whsec_<base64>; generated"
                                                                 " when absent")
    secret_header: SecretHeader | None = None


class Webhook(Response):
    id: Uuid
    url: str
    events: list[str]
    run_id: Uuid | None = None
    created_at: Timestamp
    secret: str | None = Field(None, description="in the create answer only")
    secret_header: SecretHeader | None = Field(
        None, description="the header and the secret's name; never the value")


class Delivery(Response):
    id: str = Field(description="the message id, sent as webhook-id on every attempt")
    webhook_id: Uuid
    event_id: int | None = None
    type: str
    status: DeliveryStatus
    attempts: int
    last_status_code: int | None = None
    last_error: str | None = None
    next_attempt_at: Timestamp | None = None
    created_at: Timestamp
    delivered_at: Timestamp | None = None
    payload: dict[str, Any] | None = None


# ---- tokens and the audit log -----------------------------------------------------------

class CreateToken(Model):
    name: str = Field("", max_length=100, pattern=r"^[^\x00-\x1f\x7f]*$",
                      description="a label to tell your tokens apart")


class Token(Response):
    id: Uuid
    name: str
    created_at: Timestamp
    revoked_at: Timestamp | None = None


class NewToken(Token):
    token: str = Field(description="wfe_ and 256 random bits; shown in this answer only")


class AuditProblem(Response):
    seq: int = Field(description="the first event that does not verify")
    reason: str


class DeletedRunRecord(Response):
    run_id: str
    template: dict[str, Any] = Field(description="id, name and version")
    events: int = Field(description="how many events its chain had")
    head: str = Field(description="the hash of its last event when it was deleted")
    deleted_by: str = Field(description="a user's name, or retention")
    deleted_at: str


class AuditReport(Response):
    run_id: Uuid
    ok: bool
    events: int = Field(description="events that verified, from the first on")
    head: str = Field(description="the hash of the last verified event: keep it elsewhere to"
                                  " anchor the chain")
    first_bad: AuditProblem | None = None
    deleted: DeletedRunRecord | None = Field(
        None, description="set when the run was deleted: its events are gone, and this is the"
                          " record the global audit log keeps of them")


class AuditSummary(Response):
    ok: bool
    runs: int
    events: int
    failures: list[AuditReport]
    deleted: list[DeletedRunRecord] = Field(
        [], description="the caller's deleted runs, as recorded (their chains are gone)")


# ---- stored secrets and variables -------------------------------------------------------

MAX_STORED_VALUE = 64 * 1024


class StoredValueBody(Model):
    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)
    value: str = Field(max_length=MAX_STORED_VALUE)
    global_: bool = Field(False, alias="global", description="the global scope (admins only)")


class SetStoredValue(StoredValueBody):
    name: str = Field(pattern=STORED_NAME, description="read as secrets.NAME or vars.NAME")


class StoredValue(Response):
    name: str
    scope: Scope
    owner: str | None = Field(None, description="whose it is; null when global")
    set_by: str
    set_at: Timestamp
    value: str | None = Field(None, description="variables only: a secret's value is never"
                                                " answered")


class GlobalEvent(Response):
    seq: int
    type: str = Field(description="secret.set, secret.removed, var.set, var.removed or"
                                  " run.deleted (data: run_id, owner, template, events, head)")
    actor: str
    data: dict[str, Any]
    created_at: Timestamp
