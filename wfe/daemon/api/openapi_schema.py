"""How an ``Op`` becomes an operation of the OpenAPI document: its parameters, request body,
responses and the errors that follow from its shape, and one components/schemas for every model.

openapi holds the table of Ops (one per route) and build_document; these are the pieces it
is assembled from, apart only to keep each module short (openapi re-exports the public ones).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from wfe import models as m
from wfe.daemon.api import openapi_streams as sse

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


class Schemas:
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


def _request_body(op: Op, schemas: Schemas) -> dict | None:
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


def _responses(method: str, path: str, op: Op, schemas: Schemas) -> dict:
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


def operation(method: str, path: str, handler, op: Op, schemas: Schemas) -> dict:
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
