"""The OpenAPI 3.1 document, generated from the route table and the pydantic models.

Each route in ``routes.ROUTES`` has an ``Op`` here, keyed by (method, path): what it takes
(body model, media types, query parameters) and what it answers (model, status). The
errors every operation can answer follow from that (a body can be malformed, a path id
unknown, a token missing), so a handler stays plain and the document cannot forget one.
A route without an ``Op`` fails tests/api/test_openapi.py. The same table is enforced
before any handler runs (wfe.daemon.hardening): a body of another media type is 415, an
undocumented query parameter or an integer out of its range is 422.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from wfe import API_VERSION, __version__
from wfe import models as m
from wfe.daemon.api import openapi_streams as sse
from wfe.engine import strictjson
from wfe.engine.spec import TemplateSpec
from wfe.engine.spec_models import NAME_RULES

JSON = ("application/json",)
YAML = ("application/yaml", "application/x-yaml", "text/yaml")
MUTATING = ("POST", "PUT", "PATCH", "DELETE")
UUID = {"type": "string", "format": "uuid"}
INT64 = 2**63 - 1  # SQLite's largest integer: every integer parameter stays within it


def query(name: str, schema: dict, description: str) -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description}


def status_param(enum: str) -> dict:
    """A status filter whose values are those of the named enum of the items' schema."""
    return query("status", {"$ref": f"#/components/schemas/{enum}"},
                 "only items with this status")


PAGING = (query("limit", {"type": "integer", "minimum": 1, "maximum": 500, "default": 50},
                "items per page"),
          query("offset", {"type": "integer", "minimum": 0, "maximum": INT64, "default": 0},
                "items to skip"))


@dataclass(frozen=True)
class Op:
    summary: str
    response: Any = None  # the success body's model; None: no JSON body
    status: int = 200
    body: Any = None  # the request body's model (JSON)
    body_required: bool = True
    media: tuple[str, ...] = JSON  # the media types a request body may have
    params: tuple[dict, ...] = ()  # query (and header) parameters
    path: dict[str, dict] = field(default_factory=dict)  # path parameter schemas ({} = string)
    errors: tuple[int, ...] = ()  # statuses beyond those that follow from the shape
    public: bool = False  # no bearer token needed
    produces: str = "application/json"  # text/plain for logs, text/event-stream for streams
    tag: str = ""
    replay: bool = False  # takes Idempotency-Key: a replay answers 200 with the first's run
    partial: bool = False  # answers 206 with Content-Range to a Range header
    events: tuple[sse.SseEvent, ...] = ()  # a stream's events (openapi_streams)

    @property
    def stream(self) -> bool:
        return self.produces == "text/event-stream"


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

ERRORS = {
    400: "The body could not be read: malformed JSON or YAML, or not an object; or a stream's"
         " Last-Event-ID (or `after`) that is not one of its ids (`details` names it).",
    401: "No token, or a malformed, unknown or revoked one.",
    403: "A Host or Origin that is not loopback (DNS rebinding, cross-site), or an action the"
         " caller's role does not allow (code `forbidden`).",
    404: "Unknown, malformed or another user's id: the three are indistinguishable.",
    405: "Another method on this path: `Allow` lists the ones it takes (HEAD with every GET,"
         " OPTIONS everywhere, without a token).",
    409: "Not allowed in the current state; `details` says why.",
    413: "The body is over the limit.",
    415: "The body's media type is not one this endpoint takes.",
    416: "The Range asked for is not in the file (`Content-Range: bytes */SIZE` says its"
         " size) or is not one range of bytes.",
    422: "Invalid fields or query parameters; `details` lists each with its path.",
    429: "A bad token from a client with too many failed authentications lately; wait"
         " `Retry-After` seconds. A valid token is never refused.",
    500: "A bug; the daemon's log has the details. Never a traceback.",
    507: "The disk holding wfe's data is full; nothing was changed. Retry after `Retry-After`"
         " seconds.",
}


HEADERS = {
    401: {"WWW-Authenticate": {
        "description": 'Bearer realm="wfe", with error="invalid_token" when the token sent'
                       " was refused (RFC 6750)", "schema": {"type": "string"}}},
    405: {"Allow": {"description": "the methods this path takes",
                    "schema": {"type": "string"}}},
}


def error_statuses(method: str, path: str, op: Op) -> set[int]:
    """Every error an operation can answer, from its shape."""
    out = {403, 405, 500, *op.errors}  # every path takes some methods, not all
    if not op.public:
        out |= {401, 429}
    if "{" in path:
        out.add(404)
    if method in MUTATING:
        out |= {413, 415, 507}  # a body too big or of another type; a write on a full disk
    if op.body is not None or method in MUTATING:
        out |= {400, 422}  # a bad body; or, where none is taken, any body but {}
    if op.params:
        out.add(422)
    return out


def _path_params(path: str, op: Op) -> list[dict]:
    names = re.findall(r"{(\w+)}", path)
    return [{"name": n, "in": "path", "required": True,
             "schema": op.path.get(n) or {"type": "string", "minLength": 1}} for n in names]


class _Schemas:
    """Collects the models the operations use; one components/schemas for all of them."""

    def __init__(self) -> None:
        self.wanted: list[tuple[type[BaseModel], JsonSchemaMode]] = [
            (m.ErrorBody, "serialization")]

    def ref(self, model: Any, mode: JsonSchemaMode) -> Any:
        if model is Any:
            return {"description": "any JSON value"}
        if model is str:
            return {"type": "string"}
        if model is dict:
            return {"type": "object"}
        self.wanted.append((model, mode))
        return (model, mode)  # replaced by a $ref once every model is known

    def resolve(self, doc: dict) -> dict:
        keys, top = models_json_schema(list(dict.fromkeys(self.wanted)),
                                       ref_template="#/components/schemas/{model}")
        doc["components"]["schemas"] = top.get("$defs", {})

        def fix(node):
            if isinstance(node, tuple):
                return keys[node]
            if isinstance(node, dict):
                return {k: fix(v) for k, v in node.items()}
            if isinstance(node, list):
                return [fix(v) for v in node]
            return node

        return fix(doc)


def _request_body(op: Op, schemas: _Schemas) -> dict | None:
    if op.body is None:
        return None
    schema = schemas.ref(op.body, "validation")
    body: dict[str, Any] = {"required": op.body_required, "content": {
        media: {"schema": schema} for media in op.media if media in JSON}}
    # Typed-client generators warn on media types they cannot serialise, so the YAML forms
    # of the same object are named in text; Op.media still admits them (hardening).
    other = [media for media in op.media if media not in JSON]
    if other:
        body["description"] = (f"The same object may also be sent as YAML, with Content-Type"
                               f" {', '.join(other)}.")
    return body


def _responses(method: str, path: str, op: Op, schemas: _Schemas) -> dict:
    ok: dict[str, Any] = {"description": op.summary}
    if op.response is not None:
        ok["content"] = {op.produces: {"schema": schemas.ref(op.response, "serialization")}}
    if op.events:
        ok["content"][op.produces]["x-sse-events"] = sse.events_doc(
            op.events, lambda model: schemas.ref(model, "serialization"))
    out = {str(op.status): ok}
    if op.replay:
        out["200"] = {**ok, "description": "A replay: the run an earlier request with this"
                                           " Idempotency-Key started",
                      "headers": {"Idempotent-Replayed": {
                          "description": "present on a replay",
                          "schema": {"type": "string", "enum": ["true"]}}}}
    if op.partial:
        out["206"] = {**ok, "description": "the byte range asked for", "headers": {
            "Content-Range": {"description": "bytes START-END/SIZE",
                              "schema": {"type": "string"}}}}
    error = {"application/json": {"schema": schemas.ref(m.ErrorBody, "serialization")}}
    for status in sorted(error_statuses(method, path, op)):
        out[str(status)] = {"description": ERRORS[status], "content": error}
        if status in (429, 507):
            out[str(status)]["headers"] = {"Retry-After": {
                "description": "seconds to wait", "schema": {"type": "integer", "minimum": 1}}}
        elif status in HEADERS:
            out[str(status)]["headers"] = HEADERS[status]
    return out


def _operation(method: str, path: str, handler, op: Op, schemas: _Schemas) -> dict:
    out: dict[str, Any] = {
        # module_function: unique by construction (history.step_log vs stream.step_log)
        "operationId": f"{handler.__module__.rsplit('.', 1)[-1]}_{handler.__name__}",
        "summary": op.summary, "tags": [op.tag],
        "parameters": _path_params(path, op) + list(op.params),
        "responses": _responses(method, path, op, schemas)}
    body = _request_body(op, schemas)
    if body is not None:
        out["requestBody"] = body
    if op.public:
        out["security"] = []
    if op.stream:
        out["x-stream"] = "sse"
        out["description"] = sse.NOTE + op.summary + "."
    return out


def build_document(routes: list[tuple[str, str, Any]]) -> dict:
    """The document for ``routes``; routes without an Op are left out (see ``undocumented``)."""
    schemas = _Schemas()
    paths: dict[str, dict] = {}
    for method, path, handler in routes:
        op = OPERATIONS.get((method, path))
        if op is not None:
            paths.setdefault(path, {})[method.lower()] = _operation(method, path, handler, op,
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
