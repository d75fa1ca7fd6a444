"""The OpenAPI document: served without a token, complete, and true to the route table."""

from __future__ import annotations

import json
import re

import pytest

from tests.support import api_client
from wfe.daemon.api.openapi import OPERATIONS, YAML, build_document, document, undocumented
from wfe.daemon.api.routes import ROUTES
from wfe.daemon.ui import is_ui_path

METHODS = ("get", "post", "put", "patch", "delete", "head")


def registered(app) -> set[tuple[str, str]]:
    """Every (method, path) the running app serves, whoever registered it and how; the web
    UI's pages and files (under /ui, HTML for people, not the API) are not in the document."""
    out = set()
    for route in app.router.routes():
        info = route.resource.get_info()
        path = info.get("path") or info.get("formatter") or info.get("prefix")
        if not is_ui_path(path):
            out.add((route.method, path))
    return out


def documented(doc: dict) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, ops in doc["paths"].items()
            for method in ops if method in METHODS}


async def test_the_served_document_covers_every_registered_route(settings):
    async with api_client(settings) as api:
        resp = await api.client.get("/api/v1/openapi.json")  # no token: the contract is public
        assert resp.status == 200 and resp.content_type == "application/json"
        doc = await resp.json()
        served = registered(api.app)
    # HEAD comes with every GET (RFC 9110: the GET's headers without its body), implicit in
    # the document as OpenAPI tools expect.
    heads = {path for method, path in served if method == "HEAD"}
    assert heads == {path for method, path in served if method == "GET"}
    routes = {(method, path) for method, path in served if method != "HEAD"}
    missing = routes - documented(doc)
    assert not missing, f"routes missing from the OpenAPI document (add an Op): {missing}"
    assert documented(doc) == routes, "the document lists a route the app does not serve"
    assert doc == json.loads(json.dumps(document()))
    assert doc["openapi"].startswith("3.1")


def test_every_route_in_the_table_has_an_op_and_every_op_a_route():
    assert undocumented(ROUTES) == [], "describe the new route in openapi.OPERATIONS"
    assert set(OPERATIONS) == {(m, p) for m, p, _ in ROUTES}, "an Op for a route that is gone"


def test_a_new_route_without_an_op_is_left_out_and_reported():
    async def handler(request):  # pragma: no cover - never served
        raise AssertionError

    extra = [*ROUTES, ("GET", "/api/v1/new-thing", handler)]
    assert undocumented(extra) == [("GET", "/api/v1/new-thing")]
    assert "/api/v1/new-thing" not in build_document(extra)["paths"]


def operations(doc=None):
    doc = doc or document()
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            yield method.upper(), path, op


def test_bearer_scheme_and_public_operations():
    doc = document()
    assert doc["components"]["securitySchemes"]["bearer"] == {
        **doc["components"]["securitySchemes"]["bearer"], "type": "http", "scheme": "bearer"}
    assert doc["security"] == [{"bearer": []}]
    public = {(m, p) for m, p, op in operations() if op.get("security") == []}
    assert public == {("GET", "/api/v1/health"), ("GET", "/api/v1/openapi.json"),
                      ("POST", "/api/v1/callbacks/{token}")}
    for method, path, op in operations():
        statuses = set(op["responses"])
        if (method, path) not in public:
            assert {"401", "429"} <= statuses, (method, path)
            assert "Retry-After" in op["responses"]["429"]["headers"]


def test_parameters_bodies_and_error_responses_are_described():
    ids = [op["operationId"] for _, _, op in operations()]
    assert len(ids) == len(set(ids)), "operationIds must be unique"
    for method, path, op in operations():
        names = {p["name"] for p in op["parameters"] if p["in"] == "path"}
        assert names == set(re.findall(r"{(\w+)}", path)), (method, path)
        statuses = set(op["responses"])
        assert {"403", "500"} <= statuses
        assert any(s.startswith("2") for s in statuses), (method, path)
        if names:
            assert "404" in statuses, (method, path)
        if method in ("POST", "DELETE"):
            assert {"413", "415"} <= statuses, (method, path)
        if "requestBody" in op:
            assert {"400", "422"} <= statuses
        for status, resp in op["responses"].items():
            if status >= "400":
                schema = resp["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorBody"}


def test_documented_media_types_and_schemas_resolve():
    doc = document()
    create = doc["paths"]["/api/v1/templates"]["post"]["requestBody"]
    # YAML is named in text only: generators of typed clients warn on media types they
    # cannot serialise (test_openapi_clients.py runs one with --fail-on-warning).
    assert set(create["content"]) == {"application/json"}
    assert all(media in create["description"] for media in YAML)
    assert OPERATIONS[("POST", "/api/v1/templates")].media == ("application/json", *YAML)
    start = doc["paths"]["/api/v1/workflows"]["post"]
    assert start["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/StartRun"}
    assert start["responses"]["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Run"}
    log = doc["paths"]["/api/v1/workflows/{id}/steps/{step}/log"]["get"]
    assert "text/plain" in log["responses"]["200"]["content"]
    refs = set(re.findall(r'"#/components/schemas/([^"]+)"', json.dumps(doc)))
    assert refs <= set(doc["components"]["schemas"]), refs - set(doc["components"]["schemas"])


def test_integer_parameters_are_bounded():
    """An unbounded one invites values SQLite cannot bind; schemathesis would send them."""
    for method, path, op in operations():
        for p in op["parameters"]:
            if p["schema"].get("type") == "integer":
                assert {"minimum", "maximum"} <= set(p["schema"]), (method, path, p["name"])


@pytest.mark.parametrize("model", ["StartRun", "CreateUser", "CreateToken", "CancelRun"])
def test_request_models_refuse_unknown_fields(model):
    assert document()["components"]["schemas"][model]["additionalProperties"] is False


RUN_STREAM = "/api/v1/workflows/{id}/events/stream"
LOG_STREAM = "/api/v1/workflows/{id}/steps/{step}/log/stream"
STREAM_PATHS = {RUN_STREAM, "/api/v1/events/stream", LOG_STREAM}


def test_streams_are_marked_and_their_events_documented():
    doc = document()
    tag = next(t for t in doc["tags"] if t["name"] == "streams")
    assert "Server-Sent Events" in tag["description"]
    marked = {path for _, path, op in operations() if op.get("x-stream") == "sse"}
    assert marked == STREAM_PATHS
    for _, path, op in operations():
        if path not in STREAM_PATHS:
            continue
        assert op["tags"] == ["streams"]
        assert op["description"].startswith("A Server-Sent Events stream")
        media = op["responses"]["200"]["content"]["text/event-stream"]
        events = {e["event"]: e for e in media["x-sse-events"]}
        assert "closing" in events, path
        for entry in events.values():
            assert entry["description"] and entry["data"], (path, entry)
    log = doc["paths"][LOG_STREAM]["get"]
    media = log["responses"]["200"]["content"]["text/event-stream"]
    assert [e["event"] for e in media["x-sse-events"]] == ["attempt", "message", "end",
                                                          "closing"]


def _validator(doc: dict, schema: dict):
    import jsonschema_rs  # what schemathesis validates with

    whole = {**schema, "components": doc["components"]}
    return jsonschema_rs.validator_for(whole)


async def test_what_the_streams_send_matches_their_documented_events(settings):
    """Each event a real stream sends has a documented type, and its data that schema."""
    from tests.api.test_stream import open_stream, read_events

    doc = document()
    retry = {"max_attempts": 2, "initial_delay": "10ms", "jitter": "none"}
    spec = {"name": "twice", "steps": [{"name": "say", "retry": retry,
                                        "run": 'echo "attempt $WFE_ATTEMPT";'
                                               ' [ "$WFE_ATTEMPT" = 2 ]'}]}
    async with api_client(settings) as api:
        await api.template(spec)
        run = await api.start("twice")
        await api.wait_status(run["id"], "completed")
        got = []
        for template in (LOG_STREAM, RUN_STREAM):
            path = template.replace("{id}", run["id"]).replace("{step}", "say")
            query = "?after=1:0" if template == LOG_STREAM else ""  # both attempts
            got.append((template, await read_events(await open_stream(api, path + query))))
    assert [len(events) > 3 for _, events in got] == [True, True]
    for path, events in got:
        media = doc["paths"][path]["get"]["responses"]["200"]["content"]
        documented = {e["event"]: e for e in media["text/event-stream"]["x-sse-events"]}
        for ev in events:
            name = ev.get("event", "message")
            entry = documented.get(name) or documented["<event type>"]
            data = ev["data"] if entry["data"] == {"type": "string"} else json.loads(ev["data"])
            assert _validator(doc, entry["data"]).is_valid(data), (path, ev)
            assert ("id" in ev) == ("id" in entry), (path, ev)
