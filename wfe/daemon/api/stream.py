"""Live streams as Server-Sent Events: a run's events, all of the caller's (a step's log is
in logstream, on the same EventStream).

New events are found when the single writer commits a batch (``store.write.wait_commit``),
never by querying on a timer: an idle stream costs one waiting future. Every stream is
resumable: a client that reconnects with ``Last-Event-ID`` (or ``?after=``) gets exactly what
it had not received. A comment line every KEEPALIVE seconds keeps proxies and clients from
timing out a quiet stream.
"""

from __future__ import annotations

import asyncio
import json
import time
import weakref

from aiohttp import web

from wfe.daemon import keys
from wfe.daemon.api.common import visible_run
from wfe.daemon.store import Store, event_queries
from wfe.daemon.store.util import loads
from wfe.errors import ValidationFailed

KEEPALIVE = 15.0
# An idle stream looks this often whether its client left: aiohttp does not tell a handler,
# and a departed client's handler would otherwise hold a daemon's shutdown until it writes.
LIVENESS = 1.0
BATCH = 500
TERMINAL = frozenset({"run.completed", "run.failed", "run.cancelled"})
REOPENED = frozenset({"run.retried", "run.rolled_back"})  # the ways out of a terminal status

_OPEN: set[EventStream] = set()
# Apps whose shutdown began: a stream that opens after close_streams ran (its request was
# already being handled) must end too, or the server waits for it past any grace.
_CLOSED_APPS: weakref.WeakSet[web.Application] = weakref.WeakSet()


class _Gone(Exception):
    """The client went away, or the daemon is shutting down."""


class EventStream:
    """One open text/event-stream response: events, comments, and noticing the end."""

    def __init__(self, request: web.Request) -> None:
        self.request = request
        self.store: Store = request.app[keys.STORE]
        self.resp = web.StreamResponse(headers={
            "Content-Type": "text/event-stream", "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no"})
        self.closing = False
        # HEAD: the headers are the whole answer; the first write or wait ends the stream.
        self.head = request.method == "HEAD"
        self.waiter: asyncio.Future | None = None
        self.last_write = time.monotonic()

    async def __aenter__(self) -> EventStream:
        await self.resp.prepare(self.request)
        _OPEN.add(self)
        if self.request.app in _CLOSED_APPS:
            self.close()
        return self

    async def __aexit__(self, exc_type, exc, tb) -> bool:
        _OPEN.discard(self)
        if self.waiter is not None:
            self.waiter.cancel()
        gone = exc_type is not None and issubclass(exc_type, (_Gone, ConnectionResetError))
        if exc_type is None or gone:
            try:
                if self.closing and not self.head:  # not the end: the client should come back
                    await self.send(None, "closing", '{"reason": "shutdown"}')
                await self.resp.write_eof()
            except ConnectionResetError:
                pass
        return gone  # a client that left is not an error worth a traceback

    def close(self) -> None:
        self.closing = True
        if self.waiter is not None:
            self.waiter.cancel()

    async def _write(self, text: str) -> None:
        if self.head:
            raise _Gone
        await self.resp.write(text.encode())
        self.last_write = time.monotonic()

    async def send(self, ident: int | str | None, event: str | None, data: str) -> None:
        # A field cannot hold a line break: each line of the data is a data: field of its own.
        head = (f"id: {ident}\n" if ident is not None else "") + (
            f"event: {event}\n" if event else "")
        lines = data.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        await self._write(head + "".join(f"data: {ln}\n" for ln in lines) + "\n")

    def next_commit(self, timeout: float = KEEPALIVE) -> asyncio.Future:
        """Start waiting for the writer's next commit *before* querying, so that a commit
        landing between the query and the wait is not missed."""
        self.waiter = asyncio.ensure_future(self.store.write.wait_commit(timeout))
        return self.waiter

    async def pause(self, waiter: asyncio.Future, timeout: float = KEEPALIVE) -> bool:
        """Until the writer commits (True) or ``timeout`` passes (False); meanwhile keep the
        stream alive and notice a client that left (raises _Gone)."""
        deadline = time.monotonic() + timeout
        while True:
            if self._server_closing():
                self.closing = True
            if self.closing or self.head or self._client_left():
                raise _Gone
            if waiter.done():
                return not waiter.cancelled() and bool(waiter.result())
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            await asyncio.wait({waiter}, timeout=min(left, LIVENESS))
            if time.monotonic() - self.last_write >= KEEPALIVE:
                await self._write(": keepalive\n\n")

    def _server_closing(self) -> bool:
        """Whether the server began to shut down (before close_streams has run, or where
        app.on_shutdown does not call it). aiohttp marks each connection closed then but
        offers no public way to ask, hence the private attribute, read defensively."""
        return self.request.app in _CLOSED_APPS or bool(
            getattr(self.request.protocol, "_close", False))

    def _client_left(self) -> bool:
        transport = self.request.transport
        return transport is None or transport.is_closing()


async def close_streams(app: web.Application) -> None:
    """For ``app.on_shutdown``: end every open stream now, with ``event: closing`` (come
    back later). The server waits for running handlers before it stops, and a stream
    handler would otherwise run until its client leaves."""
    _CLOSED_APPS.add(app)
    for stream in list(_OPEN):
        if stream.request.app is app:
            stream.close()


# ---- parameters ----------------------------------------------------------------------------


def _resume_point(request: web.Request, default: int = 0) -> int:
    """Where the client is: Last-Event-ID (what a reconnecting EventSource sends), else
    ``?after=``, else ``default``."""
    for name, raw in (("Last-Event-ID", request.headers.get("Last-Event-ID")),
                      ("after", request.query.get("after"))):
        if raw is None or raw.strip() == "":
            continue
        if not raw.strip().isdigit():
            raise ValidationFailed("invalid resume point",
                                   [{"path": name, "message": "must be an integer >= 0"}])
        return int(raw.strip())
    return default


def _event_json(row: dict) -> str:
    return json.dumps({"run_id": row["run_id"], "seq": row["seq"], "type": row["type"],
                       "actor": row["actor"], "at": row["at"], "data": loads(row["data"])},
                      separators=(",", ":"), ensure_ascii=False, allow_nan=False)


# ---- a run's events --------------------------------------------------------------------------


async def run_events(request: web.Request) -> web.StreamResponse:
    """GET /api/v1/workflows/{id}/events/stream: ``id:`` is the event's seq; the stream ends
    after the run's terminal event."""
    run = await visible_run(request)
    after = _resume_point(request)
    async with EventStream(request) as sse:
        ended = await _ended_by(sse.store, run["id"], after)
        committed = True
        while not ended:
            waiter = sse.next_commit()
            if committed:  # nothing new can be there without a commit
                rows = sse.store.read(event_queries.run_events_after, run["id"], after, BATCH)
                for row in rows:
                    await sse.send(row["seq"], row["type"], _event_json(row))
                    after = row["seq"]
                    ended = _still_ended(ended, row["type"])
                if ended or len(rows) == BATCH:
                    continue  # done, or more are waiting: no need to wait for a commit
            committed = await sse.pause(waiter)
    return sse.resp


def _still_ended(ended: bool, event_type: str) -> bool:
    """Whether the run is over once this event is sent: a terminal event ends it, a retry or
    rollback (only possible after one) starts it again."""
    if event_type in TERMINAL:
        return True
    return False if event_type in REOPENED else ended


async def _ended_by(store: Store, run_id: str, after: int) -> bool:
    """Whether the client already had the run's terminal event (resuming past the end)."""
    if after == 0:
        return False
    marks = tuple(TERMINAL | REOPENED)
    return store.read(event_queries.last_mark, run_id, after, marks) in TERMINAL


# ---- all of the caller's events ------------------------------------------------------------


async def all_events(request: web.Request) -> web.StreamResponse:
    """GET /api/v1/events/stream: every event of the caller's runs, ``id:`` a global event id.
    Without a resume point it starts at the present: a live tail, not the whole history."""
    store: Store = request.app[keys.STORE]
    latest = store.read(store.event_queries.latest_event_id)
    after = _resume_point(request, default=latest)
    owner = request[keys.USER]["name"]
    async with EventStream(request) as sse:
        committed = True
        while True:
            waiter = sse.next_commit()
            if committed:
                rows = store.read(store.event_queries.owner_events_after, owner, after, BATCH)
                for row in rows:
                    await sse.send(row["id"], row["type"], _event_json(row))
                    after = row["id"]
                if len(rows) == BATCH:
                    continue
            committed = await sse.pause(waiter)
    return sse.resp  # the client left (the stream swallowed that); aiohttp wants an answer
