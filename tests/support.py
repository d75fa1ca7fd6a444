"""Helpers for API tests that drive the app in-process over real HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import time

from aiohttp.test_utils import TestClient, TestServer

from wfe.config import Settings, paths
from wfe.daemon import keys
from wfe.daemon.app import make_app


class Api:
    """A TestClient that sends the admin's bearer token unless told otherwise."""

    def __init__(self, client: TestClient, token: str) -> None:
        self.client = client
        self.token = token
        self.app = client.server.app

    def headers(self, token: str | None = None, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}", **extra}

    async def call(self, method: str, path: str, *, token: str | None = None,
                   expect: int | None = None, **kw):
        headers = {**self.headers(token), **kw.pop("headers", {})}
        resp = await self.client.request(method, path, headers=headers, **kw)
        body = await resp.json(content_type=None) if resp.content_length != 0 else None
        if expect is not None:
            assert resp.status == expect, (resp.status, body)
        return resp.status, body

    async def get(self, path: str, **kw):
        return await self.call("GET", path, **kw)

    async def post(self, path: str, **kw):
        return await self.call("POST", path, **kw)

    async def template(self, spec: dict, publish: bool = True) -> dict:
        _, tpl = await self.post("/api/v1/templates", json=spec, expect=201)
        if publish:
            _, tpl = await self.post(f"/api/v1/templates/{tpl['id']}/publish", expect=200)
        return tpl

    async def start(self, template: str, token: str | None = None, **inputs) -> dict:
        _, run = await self.post("/api/v1/workflows", token=token,
                                 json={"template": template, "input": inputs}, expect=201)
        return run

    async def run(self, run_id: str, token: str | None = None) -> dict:
        _, run = await self.get(f"/api/v1/workflows/{run_id}", token=token, expect=200)
        return run

    async def wait_status(self, run_id: str, *statuses: str, timeout: float = 20.0,
                          token: str | None = None) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            run = await self.run(run_id, token=token)
            if run["status"] in statuses:
                return run
            if time.monotonic() > deadline:
                raise AssertionError(f"run stayed {run['status']}, wanted {statuses}: {run}")
            await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def api_client(settings: Settings):
    app = make_app(paths(), settings)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        app[keys.SUPERVISOR].base_url = str(client.make_url("")).rstrip("/")
        token = paths().token_file.read_text().strip()
        yield Api(client, token)
