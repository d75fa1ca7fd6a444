"""Stored secrets and variables: a canary secret reaches the steps (a shell, an env, an http
header) and nothing on disk or on the wire; scopes, rotation, removal and roles."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import secrets
import sys
from pathlib import Path
from urllib.parse import quote, quote_plus

from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.conftest import async_wait_until
from tests.dbutil import stored_bytes
from tests.support import api_client

V = "/api/v1"
CANARY = f'cAn4ry "{secrets.token_hex(12)}"/ü+x y'
PRINT_FORMS = ("import base64, json, os, sys, urllib.parse as u; s = os.environ['T'];"
               " print(s); print(base64.b64encode(s.encode()).decode());"
               " print(u.quote(s, safe='')); print(u.quote_plus(s)); print(json.dumps(s));"
               " open(os.environ['WFE_OUTPUT'], 'a').write('raw=' + s + '\\n'"
               " + 'b64=' + base64.b64encode(s.encode()).decode() + '\\n')")
SHA = ("import hashlib, os; open(os.environ['WFE_OUTPUT'], 'a').write('sha=' +"
       " hashlib.sha256(os.environ['T'].encode()).hexdigest() + '\\n')")


def forms(s: str) -> list[bytes]:
    raw = s.encode()
    out = [s, json.dumps(s)[1:-1], json.dumps(s, ensure_ascii=False)[1:-1], quote(s, safe=""),
           quote_plus(s), base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()]
    return [f.encode() for f in out]


def leaks(data: bytes | str, secret: str = CANARY) -> list[bytes]:
    data = data.encode() if isinstance(data, str) else data
    return [f for f in forms(secret) if f in data]


def sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def sha_step(name: str, ref: str = "secrets.API_TOKEN") -> dict:
    return {"name": name, "run": [sys.executable, "-c", SHA], "env": {"T": f"${{{{ {ref} }}}}"}}


def gated(*before: dict, after: dict) -> dict:
    return {"name": "gated", "steps": [*before, {"name": "gate", "approval": {
        "message": "go?", "timeout": "1h"}}, after]}


@contextlib.asynccontextmanager
async def receiver():
    """A local HTTP server that keeps every request's headers and body."""
    seen: list[dict] = []

    async def keep(request: web.Request) -> web.Response:
        seen.append({"path": request.path, "headers": dict(request.headers),
                     "body": (await request.read()).decode(errors="replace")})
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", keep)
    async with TestServer(app, host="127.0.0.1") as server:
        yield str(server.make_url("")).rstrip("/"), seen


async def _set(api, name: str, value: str, token: str | None = None, is_global: bool = False,
               expect: int = 200):
    return await api.call("PUT", f"{V}/secrets/{name}", token=token, expect=expect,
                          json={"value": value, "global": is_global})


async def _user(api, name: str, role: str = "operator") -> str:
    _, made = await api.post(f"{V}/users", json={"name": name, "role": role}, expect=201)
    return made["token"]


async def test_a_canary_secret_reaches_the_steps_and_lands_nowhere(settings, home):
    async with receiver() as (base, seen), api_client(settings) as api:
        await api.post(f"{V}/webhooks", json={"url": base + "/hook"}, expect=201)
        _, made = await api.post(f"{V}/secrets", json={"name": "API_TOKEN", "value": CANARY},
                                 expect=201)
        await api.template({"name": "canary", "secrets": ["API_TOKEN"], "steps": [
            {"name": "shell", "run": 'echo "token ${{ secrets.API_TOKEN }}"; printf %s '
                                     '"${{ secrets.API_TOKEN }}" | base64'},
            {"name": "forms", "run": [sys.executable, "-c", PRINT_FORMS],
             "env": {"T": "${{ secrets.API_TOKEN }}"}},
            {"name": "call", "http": {"url": base + "/api", "headers": {
                "Authorization": "Bearer ${{ secrets.API_TOKEN }}"}}},
            {"name": "keep", "set": {"copy": "${{ secrets.API_TOKEN }}"}}]})
        run = await api.start("canary")
        done = await api.wait_status(run["id"], "completed")
        async def delivered() -> bool:
            return any("run.completed" in h["body"] for h in seen)

        await async_wait_until(delivered, message="webhooks")
        answers = [json.dumps(made), json.dumps(done),
                   json.dumps((await api.get(f"{V}/secrets", expect=200))[1]),
                   json.dumps((await api.get(f"{V}/audit/events", expect=200))[1])]
        for step in ("shell", "forms"):
            resp = await api.client.get(f"{V}/workflows/{run['id']}/steps/{step}/log",
                                        headers=api.headers())
            answers.append(await resp.text())
    # The step did receive it: the receiver saw the header.
    api_hits = [h for h in seen if h["path"] == "/api"]
    assert api_hits[0]["headers"]["Authorization"] == f"Bearer {CANARY}"
    steps = {s["name"]: s for s in done["steps"]}
    assert steps["forms"]["output"] == {"raw": "***", "b64": "***"}
    assert steps["keep"]["output"] == {"copy": "***"}
    started = [e for e in done["events"] if e["type"] == "step.started"]
    assert all(e["data"]["secrets"] == ["API_TOKEN"] for e in started), started
    assert "value" not in made or made["value"] is None
    hooks = "".join(h["body"] + json.dumps(h["headers"]) for h in seen if h["path"] == "/hook")
    for text in (*answers, hooks):
        assert not leaks(text), text[:500]
    on_disk = files_under(home)
    assert run["id"].encode() in on_disk[DATABASE] and any(p.suffix == ".log" for p in on_disk)
    assert {str(p): leaks(b) for p, b in on_disk.items() if leaks(b)} == {}


async def test_each_user_reads_their_own_and_the_global_one_when_they_have_none(settings):
    async with api_client(settings) as api:
        bob = await _user(api, "bob")
        await _set(api, "API_TOKEN", "admin-own")
        await _set(api, "API_TOKEN", "bob-own", token=bob)
        await _set(api, "SHARED", "global-one", is_global=True)
        await api.template({"name": "reads", "steps": [
            sha_step("own"), sha_step("shared", "secrets.SHARED")]})
        mine = await api.start("reads")
        his = await api.start("reads", token=bob)
        mine = await api.wait_status(mine["id"], "completed")
        his = await api.wait_status(his["id"], "completed", token=bob)
        # bob sees his own and the global one, never the admin's; nor may he remove it.
        _, listed = await api.get(f"{V}/secrets", token=bob, expect=200)
        await api.call("DELETE", f"{V}/secrets/SHARED", token=bob, expect=404)
    assert [s["output"]["sha"] for s in mine["steps"]] == [sha("admin-own"), sha("global-one")]
    assert [s["output"]["sha"] for s in his["steps"]] == [sha("bob-own"), sha("global-one")]
    assert [(s["name"], s["scope"], s["owner"], s["set_by"]) for s in listed["items"]] == [
        ("API_TOKEN", "user", "bob", "bob"), ("SHARED", "global", None, "root")]
    assert all(s.get("value") is None for s in listed["items"])


async def test_only_an_admin_sets_or_removes_a_global_secret(settings):
    async with api_client(settings) as api:
        for role in ("operator", "author"):
            token = await _user(api, f"u{role}", role)
            _, err = await _set(api, "G", "x", token=token, is_global=True, expect=403)
            assert err["error"]["code"] == "forbidden"
            await _set(api, "MINE", "x", token=token)  # their own: any role
        await _set(api, "G", "x", is_global=True)
        await api.call("DELETE", f"{V}/secrets/G?global=true", token=token, expect=403)
        await api.call("DELETE", f"{V}/secrets/G?global=true", expect=204)
        _, log = await api.get(f"{V}/audit/events", expect=200)
    types = [(e["type"], e["data"]["name"], e["actor"]) for e in reversed(log["items"])]
    assert types[-2:] == [("secret.set", "G", "root"), ("secret.removed", "G", "root")]
    assert ("secret.set", "MINE", "uauthor") in types


async def test_an_undeclared_secret_is_refused_at_creation(settings):
    async with api_client(settings) as api:
        _, err = await api.post(f"{V}/templates", expect=422, json={
            "name": "t", "secrets": ["DEPLOY_KEY"], "steps": [
                {"name": "s", "run": "echo ${{ secrets.DEPLOY_KEY }} ${{ secrets.OTHER }}"}]})
        _, bad_name = await api.post(f"{V}/templates", expect=422, json={
            "name": "t", "steps": [{"name": "s", "run": "echo ${{ secrets[input.x] }}"}]})
    assert err["error"]["details"] == [{"path": "steps[0].run", "message": (
        "'secrets.OTHER' is not in the template's secrets list (declared: DEPLOY_KEY)")}]
    assert "literal name" in bad_name["error"]["details"][0]["message"]


async def _at_gate(api, spec: dict) -> tuple[dict, dict]:
    await api.template(spec)
    run = await api.start("gated")
    waiting = await api.wait_status(run["id"], "waiting_approval")
    return run, waiting["approvals"][0]


async def test_a_rotated_secret_reaches_the_next_step(settings):
    async with api_client(settings) as api:
        await _set(api, "API_TOKEN", "old-value")
        run, gate = await _at_gate(api, gated(sha_step("before"), after=sha_step("after")))
        await _set(api, "API_TOKEN", "new-value")
        await api.post(f"{V}/workflows/{run['id']}/approvals/{gate['id']}/approve", expect=200)
        done = await api.wait_status(run["id"], "completed")
    outputs = {s["name"]: s["output"] for s in done["steps"]}
    assert outputs["before"]["sha"] == sha("old-value")
    assert outputs["after"]["sha"] == sha("new-value")


async def test_a_removed_secret_fails_the_step_naming_it(settings):
    async with api_client(settings) as api:
        await _set(api, "API_TOKEN", "v")
        run, gate = await _at_gate(api, gated(sha_step("before"), after=sha_step("after")))
        await api.call("DELETE", f"{V}/secrets/API_TOKEN", expect=204)
        await api.post(f"{V}/workflows/{run['id']}/approvals/{gate['id']}/approve", expect=200)
        done = await api.wait_status(run["id"], "failed")
    after = {s["name"]: s for s in done["steps"]}["after"]
    assert after["status"] == "failed"
    assert after["error"].startswith("stored_secret_missing: API_TOKEN not set")


async def test_variables_are_shown_and_read_as_vars(settings):
    async with api_client(settings) as api:
        _, made = await api.post(f"{V}/vars", json={"name": "REGION", "value": "eu-west-1"},
                                 expect=201)
        await api.call("PUT", f"{V}/vars/TIER", json={"value": "gold", "global": True},
                       expect=200)
        await api.template({"name": "v", "steps": [
            {"name": "s", "set": {"where": "${{ vars.REGION }}-${{ vars.TIER }}"}}]})
        done = await api.wait_status((await api.start("v"))["id"], "completed")
        _, listed = await api.get(f"{V}/vars", expect=200)
        await api.call("DELETE", f"{V}/vars/REGION", expect=204)
        await api.call("DELETE", f"{V}/vars/REGION", expect=404)
    assert made["value"] == "eu-west-1"
    assert done["steps"][0]["output"] == {"where": "eu-west-1-gold"}
    assert [(v["name"], v["value"]) for v in listed["items"]] == [("REGION", "eu-west-1"),
                                                                  ("TIER", "gold")]


async def test_approval_comments_and_cancel_reasons_mask_stored_secrets(settings):
    async with api_client(settings) as api:
        await _set(api, "API_TOKEN", CANARY)
        run, gate = await _at_gate(api, gated(sha_step("before"), after=sha_step("after")))
        await api.post(f"{V}/workflows/{run['id']}/approvals/{gate['id']}/reject", expect=200,
                       json={"comment": f"no, {CANARY} leaked"})
        done = await api.wait_status(run["id"], "failed", "cancelled")
    assert not leaks(json.dumps(done)) and "no, *** leaked" in json.dumps(done)


# Where files_under keeps what the database holds: on SQLite its files' bytes (also among
# the files), on PostgreSQL the text of its rows (the server's files are not ours to read).
DATABASE = Path("<the database>")


def files_under(home) -> dict:
    """Every file the daemon left under its home, read whole (after the run, off any loop),
    and the database, whichever backend holds it, under DATABASE."""
    found = {p: p.read_bytes() for p in Path(home).rglob("*") if p.is_file()}
    found[DATABASE] = stored_bytes()
    return found


async def test_a_schedule_and_its_sub_workflow_read_the_owners_secret(settings):
    """A scheduled deploy reads its key from the store: the schedule keeps no value, and
    the run it fires (and that run's child) read the schedule owner's secret."""
    async with api_client(settings) as api:
        bob = await _user(api, "bob")
        await _set(api, "API_TOKEN", "admin-own")
        await _set(api, "API_TOKEN", "bob-own", token=bob)
        await api.template({"name": "leaf", "steps": [sha_step("own")]})
        await api.template({"name": "deploy", "steps": [
            sha_step("key"), {"name": "sub", "workflow": {"template": "leaf"}}]})
        _, sched = await api.post(f"{V}/schedules", token=bob, expect=201,
                                  json={"template": "deploy", "every": "1s"})

        async def fired():
            _, page = await api.get(f"{V}/workflows?schedule={sched['id']}", token=bob,
                                    expect=200)
            return page["items"][-1]["id"] if page["items"] else None

        run_id = await async_wait_until(fired, timeout=30)
        await api.post(f"{V}/schedules/{sched['id']}/pause", token=bob, expect=200)
        run = await api.wait_status(run_id, "completed", token=bob, timeout=30)
        _, stored = await api.get(f"{V}/schedules/{sched['id']}", token=bob, expect=200)
    outputs = {s["name"]: s["output"] for s in run["steps"]}
    assert run["owner"] == "bob" and run["trigger_type"] == "schedule"
    assert outputs["key"]["sha"] == sha("bob-own")
    assert outputs["sub"]["own"]["sha"] == sha("bob-own")
    assert "bob-own" not in json.dumps(stored)
