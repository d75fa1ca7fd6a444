"""HTTP manners an integrator expects: HEAD and OPTIONS, 405 with Allow, the Bearer
challenge, ids in either case, one value per parameter, no ignored bodies, wfe's own words
in errors, gzip for large JSON answers."""

from __future__ import annotations

import io
import re

import pytest

from tests.support import api_client
from wfe.daemon.api.openapi import OPERATIONS, document
from wfe.daemon.api.routes import ROUTES

V = "/api/v1"
QUICK = {"name": "quick", "steps": [{"name": "a", "set": {"x": 1}}]}
GATED = {"name": "gated", "steps": [{"name": "gate", "approval": {"message": "go?"}}]}
PATHS = sorted({path for _, path, _ in ROUTES})


def concrete(path: str, ids: dict[str, str]) -> str:
    return re.sub(r"{(\w+)}", lambda m: ids.get(m.group(1), "x"), path)


async def seeded(api) -> dict[str, str]:
    """Real ids for every path parameter, so GET answers what it would in use."""
    await api.template(QUICK)
    run = await api.wait_status((await api.start("quick"))["id"], "completed")
    _, hook = await api.post(f"{V}/webhooks", expect=201, json={"url": "http://127.0.0.1:9/h"})
    await api.call("PUT", f"{V}/secrets/S", json={"value": "v"}, expect=200)
    return {"id": run["id"], "step": "a", "name": "S", "webhook": hook["id"]}


async def test_head_answers_like_get_without_a_body_on_every_get(settings):
    async with api_client(settings) as api:
        ids = await seeded(api)
        for method, path, _ in ROUTES:
            if method != "GET":
                continue
            url = concrete(path, ids)
            head = await api.client.head(url, headers=api.headers())
            assert head.status != 405, url
            assert await head.read() == b""
            if OPERATIONS[("GET", path)].stream:  # HEAD on a stream answers at once
                assert head.status == 200, url
                assert head.headers["Content-Type"] == "text/event-stream"
                continue
            get = await api.client.get(url, headers=api.headers())
            assert (head.status, head.headers["Content-Type"]) == (
                get.status, get.headers["Content-Type"]), url
        no_token = await api.client.head(f"{V}/workflows")
        assert no_token.status == 401  # HEAD is read like GET: a token all the same


async def test_options_lists_the_methods_of_every_path_without_a_token(settings):
    async with api_client(settings) as api:
        for path in PATHS:
            methods = {m for m, p, _ in ROUTES if p == path}
            want = {*methods, "OPTIONS", *({"HEAD"} if "GET" in methods else set())}
            resp = await api.client.options(concrete(path, {}))
            assert resp.status == 204, path
            assert set(resp.headers["Allow"].split(", ")) == want, path
            assert await resp.read() == b""
        unknown = await api.client.options(f"{V}/nothing-here")
        assert unknown.status == 404 and (await unknown.json())["error"]["code"] == "not_found"


async def test_405_has_the_error_shape_and_allow_and_is_documented(settings):
    async with api_client(settings) as api:
        _, body = await api.call("PUT", f"{V}/workflows", expect=405)
        resp = await api.client.patch(f"{V}/health")
        assert resp.headers["Allow"] == "GET, HEAD, OPTIONS"
    assert body["error"]["code"] == "method_not_allowed"
    assert body["error"]["details"] == {"allowed": ["GET", "HEAD", "OPTIONS", "POST"]}
    for path, item in document()["paths"].items():
        for method, op in item.items():
            assert "Allow" in op["responses"]["405"]["headers"], (method, path)


async def test_401_carries_a_bearer_challenge(settings):
    async with api_client(settings) as api:
        none = await api.client.get(f"{V}/me")
        bad = await api.client.get(f"{V}/me", headers={"Authorization": "Bearer wfe_nope"})
        basic = await api.client.get(f"{V}/me", headers={"Authorization": "Basic eDp5"})
    assert none.status == bad.status == basic.status == 401
    assert none.headers["WWW-Authenticate"] == 'Bearer realm="wfe"'
    assert basic.headers["WWW-Authenticate"] == 'Bearer realm="wfe"'
    assert bad.headers["WWW-Authenticate"] == 'Bearer realm="wfe", error="invalid_token"'
    doc = document()["paths"][f"{V}/me"]["get"]["responses"]["401"]
    assert "WWW-Authenticate" in doc["headers"]


async def test_upper_case_uuids_in_paths_are_the_same_ids(settings):
    async with api_client(settings) as api:
        tpl = await api.template(GATED)
        run = await api.start("gated")
        await api.wait_status(run["id"], "waiting_approval")
        up = run["id"].upper()
        _, got = await api.get(f"{V}/workflows/{up}", expect=200)
        assert got["id"] == run["id"]
        approval = got["approvals"][0]["id"]
        await api.post(f"{V}/workflows/{up}/approvals/{approval.upper()}/approve", expect=200)
        await api.wait_status(run["id"], "completed")
        _, snaps = await api.get(f"{V}/workflows/{up}/snapshots", expect=200)
        assert snaps["total"] >= 1
        _, t = await api.get(f"{V}/templates/{tpl['id'].upper()}", expect=200)
        assert t["id"] == tpl["id"]
        _, hook = await api.post(f"{V}/webhooks", expect=201, json={"url": "http://127.0.0.1:9/"})
        await api.get(f"{V}/webhooks/{hook['id'].upper()}", expect=200)
        _, me = await api.get(f"{V}/me", expect=200)
        _, user = await api.get(f"{V}/users/{me['id'].upper()}", expect=200)
        assert user["id"] == me["id"]


@pytest.mark.parametrize(("query", "name"), [
    ("limit=1&limit=2", "limit"), ("status=failed&status=running", "status"),
    ("offset=0&offset=0", "offset")])
async def test_a_parameter_given_twice_is_422_naming_it(settings, query, name):
    async with api_client(settings) as api:
        _, body = await api.get(f"{V}/workflows?{query}", expect=422)
    assert body["error"]["details"] == [{"path": name,
                                         "message": "given more than once; takes one value"}]


async def test_a_header_parameter_given_twice_is_422_naming_it(settings):
    async with api_client(settings) as api:
        resp = await api.client.get(f"{V}/events/stream", headers=[
            *api.headers().items(), ("Last-Event-ID", "1"), ("Last-Event-ID", "2")])
        body = await resp.json()
    assert resp.status == 422 and body["error"]["details"][0]["path"] == "Last-Event-ID"


async def test_a_bad_last_event_id_names_the_header(settings):
    async with api_client(settings) as api:
        resp = await api.client.get(f"{V}/events/stream",
                                    headers={**api.headers(), "Last-Event-ID": "abc"})
        body = await resp.json()
    assert resp.status == 422 and body["error"]["details"][0]["path"] == "Last-Event-ID"


async def test_endpoints_without_a_body_refuse_one(settings):
    json_ = {"Content-Type": "application/json"}
    async with api_client(settings) as api:
        await api.template(GATED)
        run = await api.start("gated")
        await api.wait_status(run["id"], "waiting_approval")
        pause = f"{V}/workflows/{run['id']}/pause"
        _, body = await api.post(pause, json={"reason": "x"}, expect=422)
        assert body["error"]["details"] == [
            {"path": "reason", "message": "unknown field (this endpoint takes no body)"}]
        _, body = await api.post(pause, data=b"[1]", headers=json_, expect=422)
        assert body["error"]["details"][0]["path"] == "(body)"
        _, body = await api.post(pause, data=b"{nope", headers=json_, expect=400)
        assert body["error"]["code"] == "bad_request"
        await api.post(pause, data=b" {} ", headers=json_, expect=200)  # "nothing", as JSON
        await api.post(f"{V}/workflows/{run['id']}/resume", expect=200)  # no body at all
        _, hook = await api.post(f"{V}/webhooks", expect=201, json={"url": "http://127.0.0.1:9/"})
        await api.call("DELETE", f"{V}/webhooks/{hook['id']}", json={"force": True}, expect=422)
        await api.get(f"{V}/webhooks/{hook['id']}", expect=200)  # still there


PYDANTIC_WORDS = ("Input should", "Extra inputs", "Field required", "should be",
                  "should have", "Value error", "String should", "valid integer")


@pytest.mark.parametrize(("path", "body", "field", "message"), [
    (f"{V}/webhooks", {"url": 5}, "url", "must be a string"),
    (f"{V}/webhooks", {"url": "http://127.0.0.1:9/", "bogus": 1}, "bogus", "unknown field"),
    (f"{V}/webhooks", {}, "url", "required"),
    (f"{V}/webhooks", {"url": "http://127.0.0.1:9/", "events": []}, "events",
     "must have at least 1 item"),
    (f"{V}/tokens", {"name": 3}, "name", "must be a string"),
    (f"{V}/users", {"name": "bo", "role": "king"}, "role",
     "must be 'admin', 'author' or 'operator'"),
    (f"{V}/secrets", {"name": "S", "value": "v", "global": "yes"}, "global",
     "must be true or false"),
])
async def test_field_errors_are_in_wfes_words(settings, path, body, field, message):
    async with api_client(settings) as api:
        _, answer = await api.post(path, json=body, expect=422)
    details = answer["error"]["details"]
    assert {"path": field, "message": message} in details, details
    text = str(answer)
    assert not [w for w in PYDANTIC_WORDS if w in text], text


async def test_an_oversized_body_is_told_in_wfes_words(settings):
    async with api_client(settings) as api:
        big = io.BytesIO(b'{"url": "' + b"a" * (settings.max_body_bytes + 10) + b'"}')
        _, body = await api.post(f"{V}/webhooks", data=big,
                                 headers={"Content-Type": "application/json"}, expect=413)
    assert body["error"]["message"] == (
        f"the body is over the limit of {settings.max_body_bytes} bytes")


async def test_large_json_answers_are_gzipped_when_asked(settings):
    gzip = {"Accept-Encoding": "gzip"}
    async with api_client(settings) as api:
        # (aiohttp's client asks for gzip unless told otherwise)
        plain = await api.client.get(f"{V}/openapi.json", headers={"Accept-Encoding": "identity"})
        zipped = await api.client.get(f"{V}/openapi.json", headers=gzip)
        refused = await api.client.get(f"{V}/openapi.json", headers={"Accept-Encoding": "gzip;q=0"})
        small = await api.client.get(f"{V}/health", headers=gzip)
        stream = await api.client.get(f"{V}/events/stream", headers={**api.headers(), **gzip})
        stream_status, stream_encoding = stream.status, stream.headers.get("Content-Encoding")
        stream.close()
        assert "Content-Encoding" not in plain.headers
        assert zipped.headers["Content-Encoding"] == "gzip"
        assert int(zipped.headers["Content-Length"]) < len(await plain.read()) / 4
        assert await zipped.json() == await plain.json()  # the client unzipped it
        assert "Accept-Encoding" in zipped.headers["Vary"]
        assert "Content-Encoding" not in refused.headers
        assert "Content-Encoding" not in small.headers  # under 1 KiB: not worth it
    assert stream_status == 200 and stream_encoding is None
