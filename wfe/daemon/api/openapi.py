"""The OpenAPI 3.1 document, generated from the route table and the pydantic models.

Each route in ``routes.ROUTES`` has an ``Op`` here, keyed by (method, path): what it takes
(body model, media types, query parameters) and what it answers (model, status). The
errors every operation can answer follow from that (a body can be malformed, a path id
unknown, a token missing), so a handler stays plain and the document cannot forget one.
A route without an ``Op`` fails tests/api/test_openapi.py. The same table is enforced
before any handler runs (wfe.daemon.hardening): a body of another media type is 415, an
undocumented query parameter or an integer out of its range is 422. How an Op becomes an
operation of the document (parameters, bodies, responses, components) is in openapi_schema,
whose public names are importable from here as before.
"""

from __future__ import annotations

import functools
from typing import Any

from aiohttp import web

from wfe import API_VERSION, __version__
from wfe import models as m
from wfe.daemon.api import openapi_streams as sse
from wfe.daemon.api.openapi_schema import (
    ERRORS,
    HEADERS,
    INT64,
    JSON,
    MUTATING,
    PAGING,
    UUID,
    YAML,
    Op,
    Schemas,
    error_statuses,
    operation,
    query,
    status_param,
)
from wfe.engine import strictjson
from wfe.engine.spec import TemplateSpec
from wfe.engine.spec_models import NAME_RULES

__all__ = [
    "AFTER",
    "ATTEMPT",
    "BEFORE",
    "ERRORS",
    "GLOBAL",
    "HEADERS",
    "IDEMPOTENCY_KEY",
    "ID_PREFIX",
    "INT64",
    "ITEM",
    "JSON",
    "LOG_AFTER",
    "LOG_ID",
    "MUTATING",
    "NAME_RULES",
    "OPERATIONS",
    "PAGING",
    "RANGE",
    "RUN",
    "RUN_STATUS",
    "SCHEDULE_ID",
    "SINCE",
    "STORED_NAME",
    "TEMPLATE",
    "TEMPLATE_NAME",
    "USER",
    "UUID",
    "YAML",
    "Op",
    "V",
    "build_document",
    "document",
    "error_statuses",
    "op_for",
    "openapi",
    "query",
    "status_param",
    "undocumented",
]

RUN = {"id": {**UUID, "description": "a run id"}}
AFTER = (query("after", {"type": "integer", "minimum": 0, "maximum": INT64},
               "resume after this id (what Last-Event-ID says)"),
         {"name": "Last-Event-ID", "in": "header", "required": False,
          "schema": {"type": "integer", "minimum": 0, "maximum": INT64},
          "description": "resume after this id"})
LOG_ID = {"type": "string", "pattern": r"^([0-9]{1,9}:)?([0-9]{1,18}|end)$"}
LOG_AFTER = (query("after", LOG_ID, "resume after this id: ATTEMPT:LINE or ATTEMPT:end"),
             {"name": "Last-Event-ID", "in": "header", "required": False, "schema": LOG_ID,
              "description": "resume after this id (ATTEMPT:LINE or ATTEMPT:end); one that"
                             " is not is 400"})
ATTEMPT = query("attempt", {"type": "integer", "minimum": 1, "maximum": INT64},
                "default: the latest")
ITEM = query("item", {"type": "integer", "minimum": 0, "maximum": INT64},
             "a foreach step's item (its index): that item's log")
USER = {"id": {"type": "string", "minLength": 1, "description": "a user id or name"}}
RANGE = {"name": "Range", "in": "header", "required": False, "schema": {"type": "string"},
         "description": "one byte range: bytes=START-END, bytes=START- or bytes=-LAST"}
TEMPLATE = {"id": {"type": "string", "description": "a template id, NAME (latest) or NAME@N"}}
RUN_STATUS = status_param("RunStatus")
ID_PREFIX = query("id_prefix", {"type": "string", "pattern": "^[0-9a-fA-F-]{1,36}$"},
                  "only runs whose id starts with this (what `wfe show 1a2b` looks up)")
BEFORE = query("before", {"type": "string", "format": "uuid"},
               "a run id of yours: the page starts after it (a cursor: pass the last item's id)")
TEMPLATE_NAME = query("template", {"type": "string", "pattern": f"^{NAME_RULES['template'][0]}$"},
                      "only runs of this template (a name: every version of it)")
SINCE = query("since", {"type": "string", "format": "date-time"},
              "only runs created at or after this ISO-8601 time (UTC when it names no offset)")
SCHEDULE_ID = query("schedule", {"type": "string", "format": "uuid"},
                    "only runs this schedule started")
V = "/api/v1"
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key", "in": "header", "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[ -~]{1,255}$"},
    "description": "1 to 255 printable ASCII characters. The same key and body from the same"
                   " user within the window (24 h by default) answer the run the first request"
                   " started, with 200 and `Idempotent-Replayed: true`, and start nothing; the"
                   " same key with another body is 422 `idempotency_key_reused`."}

STORED_NAME = {"name": {"type": "string", "pattern": m.STORED_NAME,
                        "description": "a secret's or variable's name"}}
GLOBAL = query("global", {"type": "boolean", "default": False},
               "the global scope (admins only) instead of the caller's own")


def _stored_ops(noun: str, what: str, note: str) -> dict[tuple[str, str], Op]:
    """Secrets and variables: the same four operations."""
    return {
        ("POST", f"{V}/{noun}"): Op(f"Set a {what} (the caller's own, or global); {note}",
                                    m.StoredValue, 201, m.SetStoredValue, tag="secrets"),
        ("GET", f"{V}/{noun}"): Op(f"The caller's own and the global {noun}; {note}",
                                   m.Page[m.StoredValue], params=PAGING, tag="secrets"),
        ("PUT", f"{V}/{noun}/{{name}}"): Op(f"Set (or replace) a {what}; {note}",
                                            m.StoredValue, 200, m.StoredValueBody,
                                            path=STORED_NAME, tag="secrets"),
        ("DELETE", f"{V}/{noun}/{{name}}"): Op(f"Remove a {what}", None, 204, params=(GLOBAL,),
                                               path=STORED_NAME, tag="secrets"),
    }


OPERATIONS: dict[tuple[str, str], Op] = {
    ("GET", f"{V}/health"): Op("Health, versions and live Runners", m.Health, public=True,
                               tag="system"),
    ("GET", f"{V}/openapi.json"): Op("This document", dict, public=True, tag="system"),
    ("GET", f"{V}/cluster"): Op("The daemons sharing this database, their leases and running"
                                " steps (admins only)", m.Cluster, tag="system"),
    ("GET", f"{V}/me"): Op("The caller, with their role", m.User, tag="users"),
    ("GET", f"{V}/users"): Op("Every current user (admins only)", m.Page[m.User],
                              params=PAGING, tag="users"),
    ("POST", f"{V}/users"): Op("Add a user (admins only); the answer holds their token",
                               m.UserWithToken, 201, m.CreateUser, errors=(403, 409),
                               tag="users"),
    ("GET", f"{V}/users/{{id}}"): Op("A user (admins only)", m.User, path=USER, tag="users"),
    ("PATCH", f"{V}/users/{{id}}"): Op("Change a user's role (admins only)", m.User,
                                       body=m.UpdateUser, path=USER, errors=(409,),
                                       tag="users"),
    ("DELETE", f"{V}/users/{{id}}"): Op(
        "Remove a user (admins only): their tokens are revoked, their runs stay", None, 204,
        path=USER, errors=(409,), tag="users"),
    ("POST", f"{V}/tokens"): Op("Create another token for the caller", m.NewToken, 201,
                                m.CreateToken, body_required=False, tag="tokens"),
    ("GET", f"{V}/tokens"): Op("The caller's tokens", m.Page[m.Token], params=PAGING,
                               tag="tokens"),
    ("POST", f"{V}/tokens/{{id}}/revoke"): Op("Revoke a token; it is refused at once", m.Token,
                                              path={"id": UUID}, tag="tokens"),
    ("POST", f"{V}/ui/codes"): Op(
        "A one-time sign-in code for the web UI (what `wfe ui` opens): exchanged once at"
        " /ui/login for a session cookie that lasts while the caller's token does; 404 when"
        " the UI is turned off", m.UiCode, 201, tag="tokens"),
    ("POST", f"{V}/templates"): Op("Create a draft template (JSON or YAML)", m.CreatedTemplate,
                                   201, TemplateSpec, media=JSON + YAML, errors=(409,),
                                   tag="templates"),
    ("GET", f"{V}/templates"): Op(
        "Templates, by name and version", m.Page[m.Template], tag="templates",
        params=(query("name", {"type": "string"}, "only this name"),
               status_param("TemplateStatus"), *PAGING)),
    ("GET", f"{V}/templates/{{id}}"): Op("A template", m.Template, path=TEMPLATE,
                                         tag="templates"),
    ("POST", f"{V}/templates/{{id}}/publish"): Op("Publish a draft", m.Template, path=TEMPLATE,
                                                  errors=(409,), tag="templates"),
    ("DELETE", f"{V}/templates/{{id}}"): Op(
        "Delete a draft, or archive a published version (runs keep it)", None, 204,
        path=TEMPLATE, tag="templates"),
    ("POST", f"{V}/workflows"): Op("Start a run", m.Run, 201, m.StartRun, errors=(404, 409),
                                   params=(IDEMPOTENCY_KEY,), replay=True, tag="runs"),
    ("GET", f"{V}/workflows"): Op("The caller's runs, newest first", m.Page[m.Run],
                                  params=(RUN_STATUS, TEMPLATE_NAME, SINCE, ID_PREFIX, BEFORE,
                                          SCHEDULE_ID, *PAGING),
                                  errors=(404,), tag="runs"),
    ("GET", f"{V}/workflows/{{id}}"): Op("A run with its steps, events and approvals", m.Run,
                                         path=RUN, tag="runs"),
    ("DELETE", f"{V}/workflows/{{id}}"): Op(
        "Delete an ended run with its sub-workflow runs, steps, events and logs (the caller's"
        " own; an admin's: anyone's). 409 while it or a run below it has not ended or its"
        " failure handlers run. Recorded in the global audit log as run.deleted",
        m.RunDeleted, path=RUN, errors=(409,), tag="runs"),
    **{("POST", f"{V}/workflows/{{id}}/{verb}"): Op(f"{verb.title()} a run", m.Run, path=RUN,
                                                    errors=(409,), tag="runs")
       for verb in ("pause", "resume", "retry")},
    ("POST", f"{V}/workflows/{{id}}/cancel"): Op("Cancel a run", m.Run, body=m.CancelRun,
                                                 body_required=False, path=RUN, errors=(409,),
                                                 tag="runs"),
    **{("POST", f"{V}/workflows/{{id}}/approvals/{{approval_id}}/{verb}"): Op(
        f"{verb.title()} a pending approval", m.Run, body=m.Decision, body_required=False,
        path={**RUN, "approval_id": UUID}, errors=(409,), tag="approvals")
       for verb in ("approve", "reject")},
    ("GET", f"{V}/approvals"): Op(
        "The caller's approval inbox", m.Page[m.Approval], tag="approvals",
        params=(status_param("ApprovalStatus"),
               *PAGING)),
    ("GET", f"{V}/workflows/{{id}}/snapshots"): Op("A run's snapshots", m.Page[m.Snapshot],
                                                   params=PAGING, path=RUN, tag="history"),
    ("POST", f"{V}/workflows/{{id}}/rollback"): Op("Roll a run back to a snapshot",
                                                   m.RollbackResult, body=m.RollbackRequest,
                                                   path=RUN, errors=(409,), tag="history"),
    ("GET", f"{V}/workflows/{{id}}/steps/{{step}}/log"): Op(
        "The whole log of a step's attempt (or a foreach item's), or the byte range asked"
        " for", str, path=RUN, produces="text/plain", params=(ATTEMPT, ITEM, RANGE),
        errors=(416,), partial=True, tag="history"),
    ("GET", f"{V}/workflows/{{id}}/steps/{{step}}/items"): Op(
        "A foreach step's items, in item order", m.Page[m.StepItem], params=PAGING, path=RUN,
        tag="history"),
    ("GET", f"{V}/workflows/{{id}}/events/stream"): Op(
        "A run's events as Server-Sent Events, until its terminal event", str, path=RUN,
        params=AFTER, produces="text/event-stream", tag="streams", events=sse.RUN_EVENTS),
    ("GET", f"{V}/events/stream"): Op(
        "Every new event of the caller's runs (Server-Sent Events)", str, params=AFTER,
        produces="text/event-stream", tag="streams", events=sse.ALL_EVENTS),
    ("GET", f"{V}/workflows/{{id}}/steps/{{step}}/log/stream"): Op(
        "A step's (or a foreach item's) log as it grows, through its retries (Server-Sent"
        " Events)", str, path=RUN, params=(*LOG_AFTER, ATTEMPT, ITEM),
        produces="text/event-stream", errors=(400,), tag="streams", events=sse.LOG_EVENTS),
    ("POST", f"{V}/callbacks/{{token}}"): Op(
        "Finish a callback step (the URL is the credential)", m.CallbackAccepted, 202, Any,
        body_required=False, public=True, errors=(409,), tag="callbacks"),
    ("POST", f"{V}/workflows/{{id}}/steps/{{step}}/callback"): Op(
        "Finish a callback step as the run's owner", m.CallbackAccepted, 202, Any,
        body_required=False, path=RUN, errors=(409,), tag="callbacks"),
    ("GET", f"{V}/workflows/{{id}}/audit"): Op("Verify a run's audit chain", m.AuditReport,
                                               path=RUN, tag="audit"),
    ("GET", f"{V}/audit"): Op("Verify the audit chain of every run of the caller",
                              m.AuditSummary, tag="audit"),
    ("POST", f"{V}/schedules"): Op("Create a schedule", m.Schedule, 201, m.CreateSchedule,
                                   errors=(404, 409), tag="schedules"),
    ("GET", f"{V}/schedules"): Op("The caller's schedules, newest first", m.Page[m.Schedule],
                                  params=PAGING, tag="schedules"),
    ("GET", f"{V}/schedules/{{id}}"): Op("A schedule with its latest skips", m.Schedule,
                                         path={"id": UUID}, tag="schedules"),
    ("PATCH", f"{V}/schedules/{{id}}"): Op("Change a schedule", m.Schedule, body=m.UpdateSchedule,
                                           path={"id": UUID}, errors=(404, 409),
                                           tag="schedules"),
    ("DELETE", f"{V}/schedules/{{id}}"): Op("Delete a schedule (its runs stay)", None, 204,
                                            path={"id": UUID}, tag="schedules"),
    **{("POST", f"{V}/schedules/{{id}}/{verb}"): Op(f"{verb.title()} a schedule", m.Schedule,
                                                    path={"id": UUID}, tag="schedules")
       for verb in ("pause", "resume")},
    ("POST", f"{V}/schedules/{{id}}/trigger"): Op(
        "Start a run of the schedule now (whatever its overlap policy)", m.Run, 201,
        path={"id": UUID}, errors=(404, 409), tag="schedules"),
    ("POST", f"{V}/webhooks"): Op("Subscribe a URL to events; the answer holds its secret",
                                  m.Webhook, 201, m.CreateWebhook, tag="webhooks"),
    ("GET", f"{V}/webhooks"): Op(
        "The caller's webhooks", m.Page[m.Webhook], tag="webhooks",
        params=(query("run_id", {"type": "string"}, "only the hooks of this run"), *PAGING)),
    ("GET", f"{V}/webhooks/{{id}}"): Op("A webhook", m.Webhook, path={"id": UUID},
                                        tag="webhooks"),
    ("DELETE", f"{V}/webhooks/{{id}}"): Op("Delete a webhook", None, 204, path={"id": UUID},
                                           tag="webhooks"),
    ("GET", f"{V}/webhooks/{{id}}/deliveries"): Op(
        "A webhook's deliveries", m.Page[m.Delivery], path={"id": UUID}, tag="webhooks",
        params=(status_param("DeliveryStatus"),
                query("failing", {"type": "boolean", "default": False},
                      "only deliveries that failed: given up on, or pending a retry after a"
                      " failed attempt (attempts > 0 and a last_error)"), *PAGING)),
    ("POST", f"{V}/webhooks/{{id}}/deliveries/{{delivery_id}}/redeliver"): Op(
        "Send a delivery again", m.Delivery, 202, path={"id": UUID}, errors=(409,),
        tag="webhooks"),
    ("POST", f"{V}/webhooks/{{id}}/test"): Op("Send a test message", m.Delivery, 202,
                                              path={"id": UUID}, tag="webhooks"),
    ("GET", f"{V}/deliveries/{{delivery_id}}"): Op("A delivery", m.Delivery, tag="webhooks"),
    ("GET", f"{V}/audit/events"): Op(
        "Changes to secrets and variables (names, never values) and deleted runs: all for an"
        " admin, the caller's own for anyone else", m.Page[m.GlobalEvent], params=PAGING,
        tag="secrets"),
    **_stored_ops("secrets", "secret", "a secret's value is never answered"),
    **_stored_ops("vars", "variable", "variables are not secret: values are shown"),
}


def build_document(routes: list[tuple[str, str, Any]]) -> dict:
    """The document for ``routes``; routes without an Op are left out (see ``undocumented``)."""
    schemas = Schemas()
    paths: dict[str, dict] = {}
    for method, path, handler in routes:
        op = OPERATIONS.get((method, path))
        if op is not None:
            paths.setdefault(path, {})[method.lower()] = operation(method, path, handler, op,
                                                                    schemas)
    doc = {
        "openapi": "3.1.0",
        "info": {"title": "wfe", "version": __version__,
                 "description": f"The wfe daemon's HTTP API, version {API_VERSION}. Every error"
                                " has one shape: {\"error\": {code, message, details}}. HEAD"
                                " works wherever GET does; OPTIONS answers 204 with Allow on"
                                " every path, without a token."},
        "paths": paths,
        "tags": [sse.TAG],
        "components": {"securitySchemes": {"bearer": {
            "type": "http", "scheme": "bearer", "bearerFormat": "wfe_<43 characters>",
            "description": "A token from `wfe auth token` or `wfe token create`."}}},
        "security": [{"bearer": []}],
    }
    return schemas.resolve(doc)


def undocumented(routes: list[tuple[str, str, Any]]) -> list[tuple[str, str]]:
    return [(method, path) for method, path, _ in routes if (method, path) not in OPERATIONS]


def op_for(request: web.Request) -> Op | None:
    """The Op of the route a request matched (None for unknown paths)."""
    resource = request.match_info.route.resource
    if resource is None:
        return None
    method = request.match_info.route.method
    return OPERATIONS.get(("GET" if method == "HEAD" else method, resource.canonical))


@functools.cache
def document() -> dict:
    from wfe.daemon.api.routes import ROUTES  # the route table imports this module's handler

    return build_document(ROUTES)


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(document(), dumps=strictjson.dumps)
