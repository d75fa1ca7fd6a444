"""Roles: who may write templates (code run as the daemon's OS user), who may only run
them, and the admin's users API."""

from __future__ import annotations

import pytest

from tests.support import api_client
from wfe.daemon import keys
from wfe.daemon.store import queries
from wfe.engine.roles import PERMISSIONS, Permission, Role, allows

V = "/api/v1"
GATED = {"name": "gated", "variables": {"who": {"type": "string", "required": True}},
         "steps": [{"name": "hello", "run": "echo hi ${{ input.who }}"},
                   {"name": "gate", "approval": {"message": "go?", "timeout": "1h",
                                                 "approvers": ["olive"]}},
                   {"name": "after", "set": {"done": True}}]}


async def _users(api) -> dict[str, str]:
    """A token per role: the admin (the first user), an author and an operator."""
    tokens = {"admin": api.token}
    for name, role in (("ann", "author"), ("olive", "operator")):
        _, made = await api.post(f"{V}/users", json={"name": name, "role": role}, expect=201)
        assert made["user"]["role"] == role and made["user"]["is_admin"] is False
        tokens[role] = made["token"]
    return tokens


def test_the_table_gives_writing_templates_to_admins_and_authors_only():
    writers = {r for r in Role if allows(r, Permission.WRITE_TEMPLATES)}
    assert writers == {Role.ADMIN, Role.AUTHOR}
    assert {r for r in Role if allows(r, Permission.MANAGE_USERS)} == {Role.ADMIN}
    assert PERMISSIONS[Role.ADMIN] >= PERMISSIONS[Role.AUTHOR] >= PERMISSIONS[Role.OPERATOR]
    assert not allows("superuser", Permission.READ_TEMPLATES)  # unknown roles may do nothing


@pytest.mark.parametrize("role,allowed", [("admin", True), ("author", True),
                                          ("operator", False)])
async def test_template_create_publish_delete_by_role(settings, role, allowed):
    async with api_client(settings) as api:
        token = (await _users(api))[role]
        spec = {"name": f"t-{role}", "steps": [{"name": "a", "run": "true"}]}
        status, body = await api.post(f"{V}/templates", json=spec, token=token)
        if not allowed:
            assert status == 403 and body["error"]["code"] == "forbidden", body
            assert body["error"]["details"] == {"role": "operator",
                                                "permission": "templates.write"}
            # Nor publish or delete a template someone else wrote.
            tpl = await api.template(spec, publish=False)
            for method, path in (("POST", f"{V}/templates/{tpl['id']}/publish"),
                                 ("DELETE", f"{V}/templates/{tpl['id']}")):
                status, body = await api.call(method, path, token=token)
                assert status == 403 and body["error"]["code"] == "forbidden", (method, body)
            _, still = await api.get(f"{V}/templates/{tpl['id']}", expect=200)
            assert still["status"] == "draft"
            return
        assert status == 201, body
        await api.post(f"{V}/templates/{body['id']}/publish", token=token, expect=200)
        await api.call("DELETE", f"{V}/templates/{body['id']}", token=token, expect=204)
        _, gone = await api.get(f"{V}/templates/{body['id']}", token=token, expect=200)
        assert gone["status"] == "archived"  # runs keep pointing at a published version
        status, err = await api.post(f"{V}/workflows", json={"template": f"t-{role}"},
                                     token=token)
        assert status == 409 and err["error"]["details"] == {"status": "archived"}


async def test_a_draft_is_deleted_and_only_its_author_or_an_admin_may(settings):
    async with api_client(settings) as api:
        tokens = await _users(api)
        _, draft = await api.post(f"{V}/templates", token=tokens["author"], expect=201,
                                  json={"name": "d", "steps": [{"name": "a", "set": {}}]})
        mine = await api.template({"name": "admins", "steps": [{"name": "a", "set": {}}]})
        status, body = await api.call("DELETE", f"{V}/templates/{mine['id']}",
                                      token=tokens["author"])
        assert status == 403 and body["error"]["details"]["owner"] == mine["owner"]
        await api.call("DELETE", f"{V}/templates/{draft['id']}", token=tokens["author"],
                       expect=204)
        await api.get(f"{V}/templates/{draft['id']}", expect=404)


async def test_an_operator_runs_the_catalog_and_controls_its_own_runs(settings):
    async with api_client(settings) as api:
        tokens = await _users(api)
        op = tokens["operator"]
        await api.template(GATED, publish=True)
        _, listed = await api.get(f"{V}/templates", token=op, expect=200)
        assert [t["name"] for t in listed["items"]] == ["gated"]
        await api.get(f"{V}/templates/gated", token=op, expect=200)
        run = await api.start("gated", token=op, who="olive")
        await api.wait_status(run["id"], "waiting_approval", token=op)
        for verb in ("pause", "resume"):
            await api.post(f"{V}/workflows/{run['id']}/{verb}", token=op, expect=200)
        _, waiting = await api.get(f"{V}/workflows/{run['id']}", token=op, expect=200)
        gate = waiting["approvals"][0]
        await api.post(f"{V}/workflows/{run['id']}/approvals/{gate['id']}/approve", token=op,
                       json={"comment": "fine"}, expect=200)
        await api.wait_status(run["id"], "completed", token=op)
        again = await api.start("gated", token=op, who="x")
        await api.post(f"{V}/workflows/{again['id']}/cancel", token=op, expect=200)
        # Another user's run is still unknown to an operator.
        other = await api.start("gated", who="y")
        await api.post(f"{V}/workflows/{other['id']}/cancel", token=op, expect=404)


async def test_the_operator_decides_a_gate_naming_them_on_someone_elses_run(settings):
    async with api_client(settings) as api:
        tokens = await _users(api)
        await api.template(GATED)
        run = await api.start("gated", token=tokens["author"], who="z")
        await api.wait_status(run["id"], "waiting_approval", token=tokens["author"])
        # Named on the gate, the operator may read the run (and nothing more of it).
        waiting = await api.run(run["id"], token=tokens["operator"])
        gate = waiting["approvals"][0]
        await api.post(f"{V}/workflows/{run['id']}/approvals/{gate['id']}/reject",
                       token=tokens["operator"], json={"comment": "no"}, expect=200)
        await api.wait_status(run["id"], "failed", token=tokens["author"])


async def test_me_says_who_and_which_role(settings):
    async with api_client(settings) as api:
        tokens = await _users(api)
        seen = {}
        for role, token in tokens.items():
            _, me = await api.get(f"{V}/me", token=token, expect=200)
            seen[role] = (me["role"], me["is_admin"])
        assert seen == {"admin": ("admin", True), "author": ("author", False),
                        "operator": ("operator", False)}


async def test_a_new_user_is_an_operator_unless_told_and_admin_stays_spelled_both_ways(settings):
    async with api_client(settings) as api:
        _, plain = await api.post(f"{V}/users", json={"name": "pat"}, expect=201)
        _, old = await api.post(f"{V}/users", json={"name": "old", "is_admin": True}, expect=201)
        assert plain["user"]["role"] == "operator" and old["user"]["role"] == "admin"
        status, body = await api.post(f"{V}/users", json={"name": "x", "is_admin": True,
                                                          "role": "author"})
        assert status == 422 and body["error"]["details"][0]["path"] == "is_admin"
        status, body = await api.post(f"{V}/users", json={"name": "y", "role": "root"})
        assert status == 422 and body["error"]["code"] == "validation_failed"


async def test_a_role_change_applies_to_the_next_request(settings):
    async with api_client(settings) as api:
        _, bob = await api.post(f"{V}/users", json={"name": "bob"}, expect=201)
        spec = {"name": "b", "steps": [{"name": "a", "set": {}}]}
        await api.post(f"{V}/templates", json=spec, token=bob["token"], expect=403)
        _, changed = await api.call("PATCH", f"{V}/users/bob", json={"role": "author"},
                                    expect=200)
        assert changed["role"] == "author"
        await api.post(f"{V}/templates", json=spec, token=bob["token"], expect=201)
        _, by_id = await api.get(f"{V}/users/{bob['user']['id']}", expect=200)
        assert by_id["name"] == "bob" and by_id["role"] == "author"


async def test_removing_a_user_revokes_their_tokens_and_keeps_their_runs(settings):
    async with api_client(settings) as api:
        _, me = await api.get(f"{V}/me", expect=200)
        _, bob = await api.post(f"{V}/users", json={"name": "bob"}, expect=201)
        _, extra = await api.post(f"{V}/tokens", token=bob["token"], expect=201)
        await api.template({**GATED, "steps": [
            GATED["steps"][0], {**GATED["steps"][1], "approval": {
                "message": "go?", "timeout": "1h", "approvers": [me["name"]]}}]})
        run = await api.start("gated", token=bob["token"], who="b")
        await api.wait_status(run["id"], "waiting_approval", token=bob["token"])
        await api.call("DELETE", f"{V}/users/bob", expect=204)
        for token in (bob["token"], extra["token"]):
            status, body = await api.get(f"{V}/me", token=token)
            assert status == 401 and body["error"]["code"] == "unauthorized"
        # The run is still there: the admin it names as approver reads and decides it.
        kept = await queries.get_run(api.app[keys.STORE], run["id"], "bob", detail=False)
        assert kept is not None and kept["status"] == "waiting_approval"
        _, seen = await api.get(f"{V}/workflows/{run['id']}", expect=200)
        gate = seen["approvals"][0]["id"]
        await api.post(f"{V}/workflows/{run['id']}/approvals/{gate}/approve", expect=200)
        await api.wait_status(run["id"], "completed")
        _, users = await api.get(f"{V}/users", expect=200)
        assert [u["name"] for u in users["items"]] == [me["name"]]
        await api.get(f"{V}/users/bob", expect=404)
        # The name is retired: a new bob must not inherit the old one's runs.
        status, body = await api.post(f"{V}/users", json={"name": "bob"})
        assert status == 409 and "removed" in body["error"]["message"]


async def test_the_daemon_keeps_an_admin(settings):
    async with api_client(settings) as api:
        _, me = await api.get(f"{V}/me", expect=200)
        for method, body in (("DELETE", None), ("PATCH", {"role": "operator"})):
            status, err = await api.call(method, f"{V}/users/{me['name']}", json=body)
            assert status == 409 and err["error"]["code"] == "conflict", (method, err)
        _, ada = await api.post(f"{V}/users", json={"name": "ada", "role": "admin"},
                                expect=201)
        # Another admin may demote the first: there is still one admin left.
        await api.call("PATCH", f"{V}/users/{me['name']}", json={"role": "author"},
                       token=ada["token"], expect=200)
        status, err = await api.call("DELETE", f"{V}/users/{me['name']}", token=ada["token"])
        assert status == 204
        status, err = await api.call("PATCH", f"{V}/users/ada", json={"role": "operator"},
                                     token=ada["token"])
        assert status == 409
