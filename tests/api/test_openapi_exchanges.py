"""Real exchanges with the daemon, each checked against the served OpenAPI document by an
independent validator (openapi-core): the document cannot drift from what the daemon
answers, formats (date-time, uuid) and named enums included.

schemathesis (test_schemathesis.py) sends generated requests; these are the ones a client
really sends, in an order that reaches the states (a finished run, a pending approval, a
published template) that generated requests rarely do.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse

from tests.support import Api, api_client

V = "/api/v1"
GATED = {"name": "gated", "variables": {"env": {"type": "string", "default": "prod"}},
         "defaults": {"timeout": "1m", "retry": {"max_attempts": 2, "jitter": "full"}},
         "steps": [{"name": "build", "run": ["sh", "-c", "echo built; echo v=42 > $WFE_OUTPUT"],
                    "timeout": 30},
                   {"name": "ship", "approval": {"message": "ship to ${{ input.env }}?"}},
                   {"name": "nap", "sleep": "0s", "if": True},
                   {"name": "tag", "set": {"v": "${{ steps.build.output.v }}"}}]}


@dataclass
class Exchange:
    request: MockRequest
    response: MockResponse
    expect_valid_request: bool

    def __str__(self) -> str:
        return f"{self.request.method.upper()} {self.request.path} -> {self.response.status_code}"


@dataclass
class Recorder:
    """Sends requests through the test client and keeps each with its answer."""

    api: Api
    exchanges: list[Exchange] = field(default_factory=list)

    async def send(self, method: str, url: str, *, expect: int, auth: bool = True,
                   valid: bool = True, json_body=None, raw: bytes | None = None,
                   headers: dict[str, str] | None = None):
        sent = dict(headers or {})
        if auth:
            sent["Authorization"] = f"Bearer {self.api.token}"
        data = raw if raw is not None else (
            None if json_body is None else json.dumps(json_body).encode())
        if data is not None:
            sent.setdefault("Content-Type", "application/json")
        resp = await self.api.client.request(method, url, data=data, headers=sent)
        body = await resp.read()
        assert resp.status == expect, (method, url, resp.status, body[:500])
        parts = urlsplit(url)
        request = MockRequest("http://127.0.0.1", method.lower(), parts.path,
                              args=dict(parse_qsl(parts.query)), headers=sent, data=data,
                              content_type=sent.get("Content-Type", "application/json"))
        response = MockResponse(body, status_code=resp.status, headers=dict(resp.headers),
                                content_type=resp.content_type)
        self.exchanges.append(Exchange(request, response, valid))
        if resp.content_type == "application/json":
            return json.loads(body)
        return body.decode()


async def record(api: Api) -> list[Exchange]:
    r = Recorder(api)
    await r.send("GET", f"{V}/health", expect=200, auth=False)
    await r.send("GET", f"{V}/me", expect=200)
    await r.send("GET", f"{V}/openapi.json", expect=200, auth=False)
    tpl = await r.send("POST", f"{V}/templates", json_body=GATED, expect=201)
    await r.send("POST", f"{V}/templates/{tpl['id']}/publish", expect=200)
    await r.send("GET", f"{V}/templates/gated", expect=200)
    await r.send("GET", f"{V}/templates?status=published&name=gated", expect=200)
    run = await r.send("POST", f"{V}/workflows", json_body={"template": "gated"}, expect=201,
                       headers={"Idempotency-Key": "k-1"})
    await r.send("POST", f"{V}/workflows", json_body={"template": "gated"}, expect=200,
                 headers={"Idempotency-Key": "k-1"})  # a replay
    parked = await api.wait_status(run["id"], "waiting_approval")
    await r.send("GET", f"{V}/workflows/{run['id']}", expect=200)
    inbox = await r.send("GET", f"{V}/approvals?status=pending", expect=200)
    assert [a["id"] for a in inbox["items"]] == [parked["approvals"][0]["id"]]
    gate = parked["approvals"][0]["id"]
    await r.send("POST", f"{V}/workflows/{run['id']}/approvals/{gate}/approve",
                 json_body={"comment": "ok"}, expect=200)
    done = await api.wait_status(run["id"], "completed")
    assert done["steps"][3]["output"] == {"v": "42"}
    await r.send("GET", f"{V}/workflows/{run['id']}", expect=200)
    await r.send("GET", f"{V}/workflows?status=completed&template=gated", expect=200)
    await r.send("GET", f"{V}/workflows/{run['id']}/snapshots", expect=200)
    log = await r.send("GET", f"{V}/workflows/{run['id']}/steps/build/log", expect=200)
    assert log == "built\n"
    await r.send("GET", f"{V}/workflows/{run['id']}/audit", expect=200)
    await r.send("POST", f"{V}/workflows/{run['id']}/approvals/{gate}/approve", expect=409)
    await r.send("POST", f"{V}/workflows/{run['id']}/retry", expect=409)
    await r.send("POST", f"{V}/templates/{tpl['id']}/publish", expect=409)
    await record_more(r, run["id"])
    return r.exchanges


async def record_more(r: Recorder, run_id: str) -> None:
    """Schedules, webhooks, tokens, variables, and the errors every client meets."""
    sched = await r.send("POST", f"{V}/schedules", expect=201, json_body={
        "template": "gated", "every": "1h", "paused": True})
    await r.send("GET", f"{V}/schedules/{sched['id']}", expect=200)
    hook = await r.send("POST", f"{V}/webhooks", expect=201,
                        json_body={"url": "http://127.0.0.1:9/hook", "events": ["run.*"]})
    await r.send("GET", f"{V}/webhooks/{hook['id']}/deliveries?status=pending", expect=200)
    await r.send("POST", f"{V}/tokens", json_body={"name": "ci"}, expect=201)
    await r.send("GET", f"{V}/tokens", expect=200)
    await r.send("POST", f"{V}/vars", json_body={"name": "REGION", "value": "eu"}, expect=201)
    await r.send("GET", f"{V}/vars", expect=200)
    await r.send("GET", f"{V}/audit/events", expect=200)
    # errors, in the one error shape
    other = run_id[:-1] + ("1" if run_id.endswith("0") else "0")  # a run that is not there
    await r.send("GET", f"{V}/workflows/{other}", expect=404)
    await r.send("GET", f"{V}/workflows/not-a-run", expect=404, valid=False)
    await r.send("POST", f"{V}/workflows", json_body={"template": "gated", "nope": 1},
                 expect=422, valid=False)
    await r.send("POST", f"{V}/workflows", json_body={"template": "missing"}, expect=404)
    await r.send("GET", f"{V}/workflows?limit=0", expect=422, valid=False)
    await r.send("POST", f"{V}/templates", raw=b"{not json", expect=400, valid=False)
    await r.send("POST", f"{V}/templates", json_body={"name": "x", "steps": [{"name": "a"}]},
                 expect=422)
    await r.send("GET", f"{V}/me", auth=False, expect=401, valid=False)


async def test_real_exchanges_conform_to_the_served_document(settings):
    async with api_client(settings) as api:
        resp = await api.client.get(f"{V}/openapi.json")
        openapi = OpenAPI.from_dict(await resp.json())
        exchanges = await record(api)
    assert len(exchanges) >= 35
    problems = []
    for ex in exchanges:
        if ex.expect_valid_request:
            errors = list(openapi.iter_request_errors(ex.request))
            problems += [f"{ex}: request: {e!r}" for e in errors]
        errors = list(openapi.iter_response_errors(ex.request, ex.response))
        problems += [f"{ex}: response: {e!r} {getattr(e, '__cause__', '')!r}" for e in errors]
    assert not problems, "\n".join(problems)


def test_a_drifted_answer_is_caught():
    """The check above is not vacuous: a timestamp that is no date-time, an id that is no
    uuid and a status outside its enum are each refused."""
    from wfe.daemon.api.openapi import document

    openapi = OpenAPI.from_dict(json.loads(json.dumps(document())))
    good = {"id": "0b9f3a62-5d47-4e0c-9a51-2f0e3cbe8a11", "name": "ci",
            "created_at": "2024-05-01T12:00:00.000000Z", "revoked_at": None}
    request = MockRequest("http://127.0.0.1", "get", f"{V}/tokens")
    page = {"items": [good], "total": 1, "limit": 50, "offset": 0}

    def errors(item) -> list:
        body = json.dumps({**page, "items": [item]}).encode()
        return list(openapi.iter_response_errors(request, MockResponse(body)))

    assert errors(good) == []
    assert errors({**good, "created_at": "yesterday"})
    assert errors({**good, "id": "42"})
    approvals = MockRequest("http://127.0.0.1", "get", f"{V}/approvals")
    bad = json.dumps({**page, "items": [{"status": "maybe"}]}).encode()
    assert list(openapi.iter_response_errors(approvals, MockResponse(bad)))
