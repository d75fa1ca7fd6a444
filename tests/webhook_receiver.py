"""A real aiohttp webhook receiver on loopback, in its own thread and event loop.

Signatures are checked by the ``standardwebhooks`` package, an implementation of the spec
independent of wfe's. Paths choose the behaviour: ``/ok`` answers 204, ``/flaky`` fails
``fail_first`` times with 500 then answers 200, ``/down`` always 503, ``/redirect`` 307 to
``/ok``, ``/hang`` never answers while ``hang`` is set.
"""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass

from aiohttp import web
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError


@dataclass
class Hit:
    path: str
    headers: dict[str, str]
    payload: dict
    verified: bool
    status: int = 0


class Receiver:
    def __init__(self, fail_first: int = 1) -> None:
        self.secrets: list[str] = []
        self.fail_first = fail_first
        self.hits: list[Hit] = []
        self.hang = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self.base = ""

    def __enter__(self) -> Receiver:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def __exit__(self, *exc) -> None:
        self.hang.clear()
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def url(self, path: str = "/ok") -> str:
        return self.base + path

    # ---- what the tests look at ----------------------------------------------------------

    def delivered(self, path: str | None = None) -> list[Hit]:
        return [h for h in self.hits if 200 <= h.status < 300 and path in (None, h.path)]

    def types(self, path: str | None = None) -> list[str]:
        return [h.payload["type"] for h in self.delivered(path)]

    # ---- the server --------------------------------------------------------------------

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post("/{name}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base = f"http://127.0.0.1:{port}"

    def _verify(self, body: bytes, headers: dict[str, str]) -> bool:
        for secret in self.secrets:
            try:
                Webhook(secret).verify(body, headers)
                return True
            except WebhookVerificationError:
                continue
        return False

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        headers = dict(request.headers)
        hit = Hit(request.path, headers, json.loads(body), self._verify(body, headers))
        self.hits.append(hit)
        hit.status = await self._answer(request.match_info["name"], hit)
        if hit.status == 307:
            raise web.HTTPTemporaryRedirect(self.url("/ok"))
        return web.Response(status=hit.status)

    async def _answer(self, name: str, hit: Hit) -> int:
        if not hit.verified:
            return 400
        if name == "flaky":
            tries = sum(1 for h in self.hits if h.path == hit.path)
            return 500 if tries <= self.fail_first else 200
        if name == "hang" and self.hang.is_set():
            # a threading.Event, cleared from the test's thread: nothing to await but a poll
            while self.hang.is_set():  # noqa: ASYNC110
                await asyncio.sleep(0.02)
            return 599  # the sender gave up long ago; this answer reaches nobody
        return {"ok": 204, "down": 503, "redirect": 307}.get(name, 204)
