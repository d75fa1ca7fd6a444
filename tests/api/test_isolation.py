"""Owner isolation: every endpoint, with no token, a malformed one, a revoked one, and
another user's, answers 401 or a 404 identical to an unknown id; lists never show another
user's ids.

The matrix is built from the route table, so a new route joins it automatically; a route
this file cannot classify fails ``test_every_route_is_classified``.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid

import pytest

from tests.support import api_client
from wfe.daemon.api.openapi import OPERATIONS
from wfe.daemon.api.routes import ROUTES

V = "/api/v1"
# Templates are a shared catalog: every user may read one and start runs from it (see
# README, Templates); they are not owned data in the sense of this test.
SHARED = {("GET", f"{V}/templates/{{id}}"), ("POST", f"{V}/templates/{{id}}/publish"),
          ("DELETE", f"{V}/templates/{{id}}")}
# Endpoints that act only on the caller's own data, or make new data for the caller.
OWN = {("GET", f"{V}/me"), ("POST", f"{V}/templates"), ("POST", f"{V}/workflows"),
       ("POST", f"{V}/tokens"), ("POST", f"{V}/webhooks"), ("POST", f"{V}/secrets"),
       ("POST", f"{V}/vars"), ("POST", f"{V}/ui/codes"),
       ("POST", f"{V}/schedules")}
# A name in the caller's own scope: setting one makes the caller's own, never touches another's.
OWN_BY_NAME = {("PUT", f"{V}/secrets/{{name}}"), ("PUT", f"{V}/vars/{{name}}")}
# 403 for everyone else (see wfe.engine.roles)
ADMIN_ONLY = {("GET", f"{V}/users"), ("POST", f"{V}/users"), ("GET", f"{V}/users/{{id}}"),
              ("PATCH", f"{V}/users/{{id}}"), ("DELETE", f"{V}/users/{{id}}"),
              ("GET", f"{V}/cluster")}
LISTS = {("GET", p) for p in (f"{V}/workflows", f"{V}/approvals", f"{V}/tokens",
                              f"{V}/webhooks", f"{V}/audit", f"{V}/templates",
                              f"{V}/secrets", f"{V}/vars", f"{V}/audit/events",
                              f"{V}/schedules")}
STREAMS = {key for key, op in OPERATIONS.items() if op.stream and "{" not in key[1]}
PUBLIC = {key for key, op in OPERATIONS.items() if op.public}
GATE = {"name": "iso", "steps": [
    {"name": "build", "run": "echo built"},
    {"name": "gate", "approval": {"message": "ok?", "timeout": "1h"}},
    {"name": "hook", "callback": {"timeout": "1h"}}]}
BAD_TOKENS = {"no token": None, "malformed": "wfe_not-a-real-token!", "not bearer": "Basic x"}


def bodies(method: str, path: str) -> dict:
    """A body that would be valid, so that only who asks decides the answer."""
    if path.endswith("/rollback"):
        return {"json": {"step": "build", "dry_run": True}}
    if path.endswith("/callback") or path.startswith(f"{V}/callbacks/"):
        return {"json": {"ok": True}}
    if path.startswith((f"{V}/secrets", f"{V}/vars")) and method in ("POST", "PUT"):
        return {"json": {"value": "v", **({"name": "X"} if method == "POST" else {})}}
    if (method, path) == ("POST", f"{V}/users"):
        return {"json": {"name": "mallory"}}
    if (method, path) == ("PATCH", f"{V}/users/{{id}}"):
        return {"json": {"role": "operator"}}
    if (method, path) == ("POST", f"{V}/schedules"):
        return {"json": {"template": "iso", "cron": "@yearly", "paused": True}}
    if (method, path) == ("PATCH", f"{V}/schedules/{{id}}"):
        return {"json": {"name": "renamed"}}
    return {"json": {"name": "x", "steps": [{"name": "a", "set": {}}]}} if path.endswith(
        "/templates") else ({"json": {"template": "iso"}} if path.endswith("/workflows") else {})


def fill(path: str, ids: dict) -> str:
    return re.sub(r"{(\w+)}", lambda m: ids[m.group(1)], path)


class Victim:
    """The admin's resources, and ids of the same shapes that exist nowhere."""

    def __init__(self, api) -> None:
        self.api = api

    async def make(self) -> None:
        api = self.api
        await api.template(GATE)
        run = await api.start("iso")
        run = await api.wait_status(run["id"], "waiting_approval")
        _, hook = await api.post(f"{V}/webhooks", json={"url": "http://127.0.0.1:9/h"},
                                 expect=201)
        _, delivery = await api.post(f"{V}/webhooks/{hook['id']}/test", expect=202)
        _, token = await api.post(f"{V}/tokens", json={"name": "victim"}, expect=201)
        _, sched = await api.post(f"{V}/schedules", json={"template": "iso", "cron": "@yearly",
                                                          "paused": True}, expect=201)
        for kind in ("secrets", "vars"):
            await api.post(f"{V}/{kind}", json={"name": "VICTIM_KEY", "value": "v"}, expect=201)
        self.run, self.hook, self.token = run, hook, token
        self.ids = {"run": run["id"], "approval": run["approvals"][0]["id"], "hook": hook["id"],
                    "delivery": delivery["id"], "token": token["id"], "schedule": sched["id"]}

    def params(self, path: str, real: bool) -> dict:
        run = self.ids["run"] if real else str(uuid.uuid4())
        by_id = {"tokens": "token", "webhooks": "hook", "workflows": "run",
                 "schedules": "schedule"}
        kind = by_id.get(path.split("/")[3], "run")
        return {
            "id": self.ids[kind] if real else (run if kind == "run" else str(uuid.uuid4())),
            "approval_id": self.ids["approval"] if real else str(uuid.uuid4()),
            "delivery_id": self.ids["delivery"] if real else "msg_" + uuid.uuid4().hex,
            "step": "hook" if path.endswith("/callback") else "build",
            "name": "VICTIM_KEY",  # bob has none of this name: real or not, it is unknown
            "token": "wfc_" + "A" * 43}


def scrub(body, ids: dict) -> str:
    text = json.dumps(body, sort_keys=True)
    for value in ids.values():
        text = text.replace(value, "<id>")
    return re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|msg_[0-9a-f]{32}",
                  "<id>", text)


def test_every_route_is_classified():
    with_ids = {(m, p) for m, p, _ in ROUTES if "{" in p}
    known = with_ids | OWN | ADMIN_ONLY | LISTS | STREAMS | PUBLIC
    assert {(m, p) for m, p, _ in ROUTES} <= known


@pytest.fixture
def isolated(home):
    from tests.conftest import FAST
    from wfe.config import Settings, paths

    # The matrix sends many bad tokens on purpose: throttling is tested in test_security.
    return Settings.load(paths(), port=0, auth_failure_limit=100_000, **FAST)


async def _call(api, method: str, path: str, token, **kw):
    headers = {} if token is None else {"Authorization": token if " " in token
                                        else f"Bearer {token}"}
    resp = await api.client.request(method, path, headers=headers, **kw)
    body = await resp.json(content_type=None) if resp.status != 204 else None
    return resp.status, body


async def test_bad_tokens_get_401_everywhere(isolated):
    async with api_client(isolated) as api:
        victim = Victim(api)
        await victim.make()
        _, bob = await api.post(f"{V}/users", json={"name": "bob"}, expect=201)
        _, extra = await api.post(f"{V}/tokens", token=bob["token"], expect=201)
        await api.post(f"{V}/tokens/{extra['id']}/revoke", token=bob["token"], expect=200)
        tokens = {**BAD_TOKENS, "revoked": extra["token"]}
        for method, path, _ in ROUTES:
            if (method, path) in PUBLIC:
                continue
            url = fill(path, victim.params(path, real=True))
            for label, token in tokens.items():
                status, body = await _call(api, method, url, token, **bodies(method, path))
                assert status == 401, (label, method, path, status, body)
                assert body["error"]["code"] == "unauthorized"
        run = await api.run(victim.ids["run"])
        assert run["status"] == "waiting_approval"  # nothing above touched it


async def test_another_users_ids_look_unknown(isolated):
    async with api_client(isolated) as api:
        victim = Victim(api)
        await victim.make()
        _, bob = await api.post(f"{V}/users", json={"name": "bob"}, expect=201)
        for method, path, _ in ROUTES:
            if "{" not in path or (method, path) in PUBLIC | SHARED | ADMIN_ONLY | OWN_BY_NAME:
                continue
            real = await _call(api, method, fill(path, victim.params(path, True)),
                               bob["token"], **bodies(method, path))
            unknown = await _call(api, method, fill(path, victim.params(path, False)),
                                  bob["token"], **bodies(method, path))
            assert real[0] == 404, (method, path, real)
            assert scrub(real[1], victim.ids) == scrub(unknown[1], victim.ids), (method, path)
        # Whatever bob sent, the admin's run, gate, hook and token are as they were.
        run = await api.run(victim.ids["run"])
        assert run["status"] == "waiting_approval" and run["approvals"][0]["status"] == "pending"
        await api.get(f"{V}/webhooks/{victim.ids['hook']}", expect=200)
        _, mine = await api.get(f"{V}/tokens", expect=200)
        assert all(t["revoked_at"] is None for t in mine["items"])


async def test_lists_never_show_another_users_ids(isolated):
    async with api_client(isolated) as api:
        victim = Victim(api)
        await victim.make()
        _, bob = await api.post(f"{V}/users", json={"name": "bob"}, expect=201)
        await api.start("iso", token=bob["token"])  # bob has data of his own
        secret_ids = {k: v for k, v in victim.ids.items()}
        for method, path in sorted(LISTS - SHARED):
            if path == f"{V}/templates":
                continue  # the shared catalog
            status, body = await _call(api, method, path, bob["token"])
            assert status == 200, (path, body)
            text = json.dumps(body)
            leaked = [k for k, v in secret_ids.items() if v in text]
            assert not leaked, (path, leaked)
        _, theirs = await api.get(f"{V}/workflows", token=bob["token"], expect=200)
        assert theirs["total"] == 1
        # The admin does see its own: the checks above could find a leak.
        _, own = await api.get(f"{V}/workflows", expect=200)
        assert victim.ids["run"] in json.dumps(own)


async def test_admin_only_and_public_endpoints(isolated):
    async with api_client(isolated) as api:
        _, bob = await api.post(f"{V}/users", json={"name": "bob"}, expect=201)
        _, ann = await api.post(f"{V}/users", json={"name": "ann", "role": "author"},
                                expect=201)
        _, me = await api.get(f"{V}/me", expect=200)
        for method, path in sorted(ADMIN_ONLY):
            url = fill(path, {"id": me["name"]})  # the admin itself: a real target
            for who in (bob, ann):
                status, body = await _call(api, method, url, who["token"],
                                           **bodies(method, path))
                assert status == 403 and body["error"]["code"] == "forbidden", (method, path)
                assert body["error"]["details"]["role"] == who["user"]["role"]
            status, body = await _call(api, method, url, None, **bodies(method, path))
            assert status == 401 and body["error"]["code"] == "unauthorized", (method, path)
        _, users = await api.get(f"{V}/users", expect=200)
        assert [u["name"] for u in users["items"]] == [me["name"], "bob", "ann"]
        # A callback URL is its own credential: bearer tokens change nothing about it.
        url = f"{V}/callbacks/wfc_{'A' * 43}"
        answers = [await _call(api, "POST", url, t, json={}) for t in
                   (None, "wfe_bad", bob["token"])]
        assert answers[0][0] == 404 and all(a == answers[0] for a in answers)


async def test_the_event_stream_carries_only_the_callers_runs(isolated):
    async with api_client(isolated) as api:
        victim = Victim(api)
        await victim.make()
        _, bob = await api.post(f"{V}/users", json={"name": "bob"}, expect=201)
        resp = await api.client.get(f"{V}/events/stream?after=0",
                                    headers={"Authorization": f"Bearer {bob['token']}"})
        assert resp.status == 200
        await api.post(f"{V}/workflows/{victim.ids['run']}/pause", expect=200)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(resp.content.readuntil(b"\n\n"), 1.0)
        resp.close()
