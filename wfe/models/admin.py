"""The wire contract of what surrounds runs: schedules, webhooks, tokens, the audit log,
stored secrets and variables."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field

from wfe.engine.states import RunStatus
from wfe.engine.webhooks import HEADER_NAME
from wfe.models.base import (
    STORED_NAME,
    Catchup,
    DeliveryStatus,
    Model,
    Overlap,
    Response,
    Scope,
)
from wfe.wire import Timestamp, Uuid

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


class UiCode(Response):
    code: str = Field(description="wfc1_ and 256 random bits: exchanged once, at /ui/login,"
                                  " for a browser session; shown in this answer only")
    url: str = Field(description="the web UI's sign-in link carrying the code")
    expires_at: Timestamp = Field(description="unused after this, the code is refused")
