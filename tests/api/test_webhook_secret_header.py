"""A webhook's header from a stored secret: read at each delivery (own scope, else global),
sent to a real receiver, and nowhere else: not in an answer, an event or the database."""

from __future__ import annotations

import dataclasses
import json
import secrets

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.api.test_stored_secrets import DATABASE, files_under, leaks
from tests.conftest import async_wait_until
from tests.support import api_client
from tests.webhook_receiver import Receiver

V = "/api/v1"
CANARY = f"hOOk-{secrets.token_hex(12)}"
ROTATED = f"r0tated-{secrets.token_hex(12)}"


@pytest.fixture
def fast(settings):
    return dataclasses.replace(settings, webhook_retry_base=0.0001, webhook_timeout=5.0)


@pytest.fixture
def receiver():
    with Receiver() as r:
        yield r


async def put_secret(api, name: str, value: str, token: str | None = None,
                     is_global: bool = False) -> None:
    await api.call("PUT", f"{V}/secrets/{name}", token=token, expect=200,
                   json={"value": value, "global": is_global})


async def hook_with_header(api, receiver, token: str | None = None, **header) -> dict:
    _, hook = await api.post(f"{V}/webhooks", token=token, expect=201, json={
        "url": receiver.url("/ok"), "events": ["webhook.test", "run.*"],
        "secret_header": {"name": "X-Token", "secret": "HOOK_TOKEN", **header}})
    receiver.secrets.append(hook["secret"])
    return hook


async def send_test(api, hook_id: str, token: str | None = None) -> dict:
    """A test message, once its delivery has settled (delivered or failed)."""
    _, sent = await api.post(f"{V}/webhooks/{hook_id}/test", token=token, expect=202)

    async def settled():
        _, d = await api.get(f"{V}/deliveries/{sent['id']}", token=token, expect=200)
        return d if d["status"] != "pending" else None
    return await async_wait_until(settled, timeout=30, message="the test delivery settled")


def header_of(receiver, delivery_id: str) -> str | None:
    hits = [h for h in receiver.hits if h.headers.get("webhook-id") == delivery_id]
    assert hits and hits[-1].verified, hits
    return hits[-1].headers.get("X-Token")


async def test_the_header_arrives_rotates_and_is_stored_and_answered_nowhere(
        fast, home, receiver):
    async with api_client(fast) as api:
        await put_secret(api, "HOOK_TOKEN", CANARY)
        hook = await hook_with_header(api, receiver, prefix="Bearer ")
        assert hook["secret_header"] == {"name": "X-Token", "secret": "HOOK_TOKEN",
                                         "prefix": "Bearer "}
        first = await send_test(api, hook["id"])
        assert first["status"] == "delivered", first
        assert header_of(receiver, first["id"]) == f"Bearer {CANARY}"
        # A run's events go out with it too.
        await api.template({"name": "quick", "steps": [{"name": "a", "set": {"x": 1}}]})
        run = await api.wait_status((await api.start("quick"))["id"], "completed")
        async def completed() -> bool:
            return "run.completed" in receiver.types("/ok")
        await async_wait_until(completed, timeout=30, message="run.completed delivered")
        assert all(h.headers.get("X-Token") == f"Bearer {CANARY}" for h in receiver.hits)

        await put_secret(api, "HOOK_TOKEN", ROTATED)  # rotation: the next delivery has it
        second = await send_test(api, hook["id"])
        assert header_of(receiver, second["id"]) == f"Bearer {ROTATED}"

        answers = [json.dumps(hook), json.dumps(first), json.dumps(second), json.dumps(run)]
        for path in (f"{V}/webhooks", f"{V}/webhooks/{hook['id']}",
                     f"{V}/webhooks/{hook['id']}/deliveries", f"{V}/secrets",
                     f"{V}/audit/events", f"{V}/deliveries/{second['id']}"):
            answers.append(json.dumps((await api.get(path, expect=200))[1]))
        payloads = [json.dumps(h.payload) for h in receiver.hits]
    for text in (*answers, *payloads):
        assert not leaks(text, CANARY) and not leaks(text, ROTATED), text[:300]
    on_disk = files_under(home)
    assert run["id"].encode() in on_disk[DATABASE]
    assert {str(p) for p, b in on_disk.items() if leaks(b, CANARY) or leaks(b, ROTATED)} == set()


async def test_a_removed_secret_fails_the_delivery_naming_it(fast, receiver):
    async with api_client(fast) as api:
        await put_secret(api, "HOOK_TOKEN", CANARY)
        hook = await hook_with_header(api, receiver)
        await api.call("DELETE", f"{V}/secrets/HOOK_TOKEN", expect=204)
        failed = await send_test(api, hook["id"])
        assert failed["status"] == "failed" and failed["attempts"] == 1, failed
        assert "stored_secret_missing: HOOK_TOKEN not set" in failed["last_error"]
        assert "X-Token" in failed["last_error"]
        assert not [h for h in receiver.hits if h.headers.get("webhook-id") == failed["id"]]
        # Set again, a redelivery goes through: nothing else was broken.
        await put_secret(api, "HOOK_TOKEN", ROTATED)
        await api.post(f"{V}/webhooks/{hook['id']}/deliveries/{failed['id']}/redeliver",
                       expect=202)

        async def delivered():
            _, d = await api.get(f"{V}/deliveries/{failed['id']}", expect=200)
            return d["status"] == "delivered"
        await async_wait_until(delivered, timeout=30, message="redelivered")
        assert header_of(receiver, failed["id"]) == ROTATED


async def test_the_owners_own_secret_wins_over_the_global_one(fast, receiver):
    async with api_client(fast) as api:
        _, bob = await api.post(f"{V}/users", json={"name": "bob", "role": "operator"},
                                expect=201)
        _, eve = await api.post(f"{V}/users", json={"name": "eve", "role": "operator"},
                                expect=201)
        await put_secret(api, "HOOK_TOKEN", "global-value", is_global=True)
        await put_secret(api, "HOOK_TOKEN", "bobs-own", token=bob["token"])
        for who, want in ((bob["token"], "bobs-own"), (eve["token"], "global-value")):
            hook = await hook_with_header(api, receiver, token=who)
            d = await send_test(api, hook["id"], token=who)
            assert header_of(receiver, d["id"]) == want


async def test_a_value_that_cannot_be_a_header_fails_the_delivery(fast, receiver):
    async with api_client(fast) as api:
        await put_secret(api, "HOOK_TOKEN", "line1\r\nX-Evil: 1")
        hook = await hook_with_header(api, receiver)
        failed = await send_test(api, hook["id"])
        assert failed["status"] == "failed"
        assert "cannot be sent in the X-Token header" in failed["last_error"]
        assert "line1" not in failed["last_error"]
        assert not any("X-Evil" in h.headers for h in receiver.hits)


async def test_a_receiver_echoing_the_header_has_it_masked_in_last_error(fast):
    async def echo(request: web.Request) -> web.Response:
        return web.Response(status=500, text="bad token " + request.headers.get("X-Token", ""))

    app = web.Application()
    app.router.add_post("/echo", echo)
    async with TestServer(app, host="127.0.0.1") as server, api_client(fast) as api:
        await put_secret(api, "HOOK_TOKEN", CANARY)
        _, hook = await api.post(f"{V}/webhooks", expect=201, json={
            "url": str(server.make_url("/echo")), "events": ["webhook.test"],
            "secret_header": {"name": "X-Token", "secret": "HOOK_TOKEN"}})
        _, sent = await api.post(f"{V}/webhooks/{hook['id']}/test", expect=202)

        async def tried():
            _, d = await api.get(f"{V}/deliveries/{sent['id']}", expect=200)
            return d if d["attempts"] >= 1 and d["last_error"] else None
        d = await async_wait_until(tried, timeout=30, message="an attempt")
    assert "HTTP 500: bad token ***" in d["last_error"] and CANARY not in d["last_error"]


@pytest.mark.parametrize(("header", "path"), [
    ({"name": "Host", "secret": "T"}, "secret_header.name"),
    ({"name": "content-length", "secret": "T"}, "secret_header.name"),
    ({"name": "Webhook-Signature", "secret": "T"}, "secret_header.name"),
    ({"name": "Proxy-Authorization", "secret": "T"}, "secret_header.name"),
    ({"name": "X Token", "secret": "T"}, "secret_header.name"),
    ({"name": "X-Token\r\nX-Evil", "secret": "T"}, "secret_header.name"),
    ({"name": "X-Token:", "secret": "T"}, "secret_header.name"),
    ({"name": "", "secret": "T"}, "secret_header.name"),
    ({"name": "X-Token", "secret": "not a name"}, "secret_header.secret"),
    ({"name": "X-Token", "secret": "T", "prefix": "Bearer\r\n"}, "secret_header.prefix"),
    ({"name": "X-Token", "secret": "T", "value": "inline"}, "secret_header.value"),
])
async def test_bad_secret_headers_are_422_naming_the_field(fast, header, path):
    async with api_client(fast) as api:
        status, body = await api.post(f"{V}/webhooks", json={
            "url": "http://127.0.0.1:9/h", "secret_header": header})
    assert status == 422, body
    assert path in [d["path"] for d in body["error"]["details"]], body
