"""Every failing route answers with the one error shape, never a traceback."""

from __future__ import annotations

import io

import pytest

from tests.conftest import async_wait_until
from tests.support import api_client

RUN = "00000000-0000-4000-8000-000000000000"


def assert_shape(body: dict) -> None:
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert isinstance(body["error"]["code"], str) and body["error"]["message"]
    assert "Traceback" not in str(body)


@pytest.mark.parametrize("method,path,kw,status", [
    ("GET", "/api/v1/workflows", {"token": "wfe_nope"}, 401),
    ("GET", "/api/v1/nowhere", {}, 404),
    ("GET", f"/api/v1/workflows/{RUN}", {}, 404),
    ("GET", "/api/v1/workflows/not-a-uuid", {}, 404),
    ("POST", f"/api/v1/workflows/{RUN}/pause", {}, 404),
    ("DELETE", "/api/v1/workflows", {}, 405),
    ("POST", "/api/v1/workflows",
     {"data": "{", "headers": {"Content-Type": "application/json"}}, 400),
    ("POST", "/api/v1/workflows", {"data": "x", "headers": {"Content-Type": "text/plain"}}, 415),
    ("POST", "/api/v1/workflows", {"json": {"template": 3}}, 422),
    # A stream (sent chunked, no Content-Length): made anew for each run of the test, since
    # one read to its end by the first backend's run would be empty for the next.
    ("POST", "/api/v1/workflows", {"data": lambda: io.BytesIO(b"x" * (2 * 1024 * 1024)),
                                   "headers": {"Content-Type": "application/json"}}, 413),
])
async def test_error_shape(settings, method, path, kw, status):
    kw = {k: v() if callable(v) else v for k, v in kw.items()}
    async with api_client(settings) as api:
        got, body = await api.call(method, path, **kw)
    assert got == status, body
    assert_shape(body)


async def test_missing_or_malformed_auth(settings):
    async with api_client(settings) as api:
        for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer"}):
            resp = await api.client.get("/api/v1/workflows", headers=headers)
            assert resp.status == 401
            assert_shape(await resp.json())
        resp = await api.client.get("/api/v1/health")
        body = await resp.json()
        assert resp.status == 200 and body["status"] == "ok" and body["api_version"] == "1"


async def test_conflict_names_status_and_allowed_actions(settings):
    async with api_client(settings) as api:
        await api.template({"name": "t", "steps": [{"name": "s", "set": {}}]})
        run = await api.start("t")
        await api.wait_status(run["id"], "completed")
        status, body = await api.post(f"/api/v1/workflows/{run['id']}/pause")
    assert status == 409
    assert_shape(body)
    assert body["error"]["details"]["status"] == "completed"
    assert "completed" in body["error"]["message"]


async def test_host_and_origin_checks(settings):
    async with api_client(settings) as api:
        resp = await api.client.get("/api/v1/health", headers={"Host": "evil.example:80"})
        assert resp.status == 403
        assert_shape(await resp.json())
        resp = await api.client.get("/api/v1/health", headers={"Origin": "https://evil.example"})
        assert resp.status == 403
        resp = await api.client.get("/api/v1/health", headers={"Origin": "http://localhost:3000"})
        assert resp.status == 200


# ---- hostile bodies: they parse, yet nothing after the parser could store or walk them ----

DEEP_JSON = "[" * 10_000 + "]" * 10_000
SURROGATE = '"a\\ud800b"'  # JSON's escape for a lone surrogate: a str that is not Unicode


def _gated(url_file=None) -> dict:
    """A run that waits at a callback step (its URL written to ``url_file``), or else at an
    approval gate."""
    steps = [{"name": "gate", "approval": {"message": "ok?"}}] if url_file is None else [
        {"name": "hand_out", "run": f"echo '${{{{ steps.cb.callback_url }}}}' > {url_file}"},
        {"name": "cb", "callback": {"timeout": "5m"}}]
    return {"name": "gated", "variables": {"x": {"type": "string", "default": "-"},
                                           "o": {"type": "object", "default": {}}},
            "steps": steps}


async def _post_raw(api, path: str, text: str, media: str = "application/json"):
    return await api.post(path, data=text.encode(),
                          headers={"Content-Type": media})


@pytest.mark.parametrize("path,text,status,where", [
    # request bodies: inputs, cancel reasons, webhook fields, tokens, template names
    ("/api/v1/workflows", '{"template": "gated", "input": {"x": %s}}' % SURROGATE, 422,
     "input.x"),
    ("/api/v1/workflows", '{"template": "gated", "input": {"\\udfff": 1}}', 422,
     'input["\\udfff"]'),
    ("/api/v1/workflows", '{"template": "gated", "input": {"o": %s}}' % DEEP_JSON, 400, None),
    ("/api/v1/workflows", '{"template": "gated", "input": {"o": %s}}'
     % ("{\"a\":" * 65 + "1" + "}" * 65), 400, None),
    ("/api/v1/workflows/{run}/cancel", '{"reason": %s}' % SURROGATE, 422, "reason"),
    ("/api/v1/webhooks", '{"url": "http://127.0.0.1:9/x", "secret": %s}' % SURROGATE, 422,
     "secret"),
    ("/api/v1/webhooks", '{"url": "http://127.0.0.1:9/%s"}' % SURROGATE[1:-1], 422, "url"),
    ("/api/v1/tokens", '{"name": %s}' % SURROGATE, 422, "name"),
    ("/api/v1/tokens", DEEP_JSON, 400, None),
    # callback payloads, by the owner and by the unguessable URL
    ("/api/v1/workflows/{run}/steps/cb/callback", '{"v": [%s]}' % SURROGATE, 422, "v[0]"),
    ("/api/v1/workflows/{run}/steps/cb/callback", DEEP_JSON, 400, None),
    ("{callback_url}", '{"v": %s}' % SURROGATE, 422, "v"),
    ("{callback_url}", '{"v": %s}' % DEEP_JSON, 400, None),
    # templates, JSON: descriptions and set values anywhere in them
    ("/api/v1/templates", '{"name": "t", "description": %s, "steps": [{"name": "s", "set": {}}]}'
     % SURROGATE, 422, "description"),
    ("/api/v1/templates", '{"name": "t", "steps": [{"name": "s", "set": {"v": {"w": %s}}}]}'
     % SURROGATE, 422, "steps[0].set.v.w"),
    ("/api/v1/templates", '{"name": "t", "steps": [{"name": "s", "set": {"v": %s}}]}'
     % DEEP_JSON, 400, None),
    ("/api/v1/templates", DEEP_JSON, 400, None),
])
async def test_hostile_bodies_answer_4xx_naming_the_field(settings, tmp_path, path, text,
                                                          status, where):
    url_file = tmp_path / "url"
    async with api_client(settings) as api:
        await api.template(_gated(url_file))
        run = await api.start("gated")
        await async_wait_until(lambda: _waits_for_callback(api, run["id"]), message="callback")
        url = url_file.read_text().strip()
        path = path.format(run=run["id"], callback_url=url[url.index("/api/v1/"):])
        got, body = await _post_raw(api, path, text)
        assert got == status, body
        assert_shape(body)
        if where is not None:
            assert body["error"]["code"] == "validation_failed"
            assert [d["path"] for d in body["error"]["details"]] == [where], body
            assert "surrogate" in body["error"]["details"][0]["message"]
        else:
            assert body["error"]["code"] == "bad_request"
            assert body["error"]["details"] == {"max_depth": 64}
        # refused as a whole: the run still waits, and the daemon answers on
        assert await _waits_for_callback(api, run["id"])


async def _waits_for_callback(api, run_id: str) -> bool:
    run = await api.run(run_id)
    return run["status"] == "running" and run["steps"][1]["status"] == "waiting"


@pytest.mark.parametrize("text,where,status", [
    ('name: t\ndescription: "a\\ud800"\nsteps: [{name: s, set: {}}]\n', "description", 422),
    ('name: t\nsteps: [{name: s, set: {v: "\\udfff"}}]\n', "steps[0].set.v", 422),
    ("name: t\nsteps: [{name: s, set: {v: " + "[" * 10_000 + "]" * 10_000 + "}}]\n", None, 400),
    ("name: t\nsteps:\n- name: s\n  set:\n" + "".join(
        " " * (4 + i) + f"k{i}:\n" for i in range(900)), None, 400),
    # nesting made by aliases, which the text does not show
    ("name: t\n" + "".join(f"l{i}: &l{i} [*l{i - 1}]\n" if i else "l0: &l0 [1]\n"
                           for i in range(100)) + "steps: [{name: s, set: {v: *l99}}]\n",
     None, 400),
])
async def test_hostile_yaml_templates_answer_4xx(settings, text, where, status):
    async with api_client(settings) as api:
        got, body = await _post_raw(api, "/api/v1/templates", text, "application/yaml")
        assert got == status, body
        assert_shape(body)
        if where is None:
            assert body["error"]["details"] == {"max_depth": 64}
        else:
            assert [d["path"] for d in body["error"]["details"]] == [where], body
        _, page = await api.get("/api/v1/templates", expect=200)
        assert page["total"] == 0


async def test_approval_comments_with_a_lone_surrogate_are_refused(settings):
    async with api_client(settings) as api:
        await api.template(_gated())
        run = await api.start("gated")
        waiting = await api.wait_status(run["id"], "waiting_approval")
        gate = waiting["approvals"][0]["id"]
        for verdict in ("approve", "reject"):
            got, body = await _post_raw(
                api, f"/api/v1/workflows/{run['id']}/approvals/{gate}/{verdict}",
                '{"comment": %s}' % SURROGATE)
            assert got == 422, body
            assert body["error"]["details"][0]["path"] == "comment"
        assert (await api.run(run["id"]))["status"] == "waiting_approval"


async def test_deep_expressions_in_a_template_are_refused(settings):
    deep = {"name": "t", "steps": [
        {"name": "a", "run": "echo ${{ " + "(" * 5000 + "1" + ")" * 5000 + " }}"},
        {"name": "b", "set": {}, "if": "${{ " + "not " * 20_000 + "true }}"},
        {"name": "c", "set": {"v": "${{ 1" + "+1" * 20_000 + " }}"}}]}
    async with api_client(settings) as api:
        got, body = await api.post("/api/v1/templates", json=deep)
    assert got == 422, body
    assert [d["path"] for d in body["error"]["details"]] == [
        "steps[0].run", "steps[1].if", "steps[2].set.v"]
    assert all("nests more than 64 levels" in d["message"] for d in body["error"]["details"])
