"""Every failing route answers with the one error shape, never a traceback."""

from __future__ import annotations

import io

import pytest

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
    ("POST", "/api/v1/workflows", {"data": "{", "headers": {"Content-Type": "application/json"}}, 400),
    ("POST", "/api/v1/workflows", {"data": "x", "headers": {"Content-Type": "text/plain"}}, 415),
    ("POST", "/api/v1/workflows", {"json": {"template": 3}}, 422),
    ("POST", "/api/v1/workflows", {"data": io.BytesIO(b"x" * (2 * 1024 * 1024)),
                                   "headers": {"Content-Type": "application/json"}}, 413),
])
async def test_error_shape(settings, method, path, kw, status):
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
