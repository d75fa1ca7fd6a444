"""Live streams as Server-Sent Events: a run's events, all of the caller's, a step's log.

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
from pathlib import Path

from aiohttp import web

from wfe.daemon import keys
from wfe.daemon.api.common import run_masker, visible_run
from wfe.daemon.api.logreader import LogReader
from wfe.daemon.store import Store
from wfe.daemon.store.util import loads
from wfe.errors import NotFound, ValidationFailed

KEEPALIVE = 15.0
# An idle stream looks this often whether its client left: aiohttp does not tell a handler,
# and a departed client's handler would otherwise hold a daemon's shutdown until it writes.
LIVENESS = 1.0
# A step's log file grows without any commit, so a running attempt's file is read this often.
LOG_POLL = 0.25
BATCH = 500
TERMINAL = frozenset({"run.completed", "run.failed", "run.cancelled"})
REOPENED = frozenset({"run.retried", "run.rolled_back"})  # the ways out of a terminal status
EVENT_COLUMNS = "e.id, e.run_id, e.seq, e.type, e.actor, e.at, e.data"

_OPEN: set[_Stream] = set()


class _Gone(Exception):
    """The client went away, or the daemon is shutting down."""


class _Stream:
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

    async def __aenter__(self) -> _Stream:
        await self.resp.prepare(self.request)
        _OPEN.add(self)
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

    async def send(self, ident: int | None, event: str | None, data: str) -> None:
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
        return bool(getattr(self.request.protocol, "_close", False))

    def _client_left(self) -> bool:
        transport = self.request.transport
        return transport is None or transport.is_closing()


async def close_streams(app: web.Application) -> None:
    """For ``app.on_shutdown``: end every open stream now, with ``event: closing`` (come
    back later). The server waits for running handlers before it stops, and a stream
    handler would otherwise run until its client leaves."""
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
    async with _Stream(request) as sse:
        ended = await _ended_by(sse.store, run["id"], after)
        committed = True
        while not ended:
            waiter = sse.next_commit()
            if committed:  # nothing new can be there without a commit
                rows = await sse.store.all(
                    f"SELECT {EVENT_COLUMNS} FROM events e WHERE e.run_id = ? AND e.seq > ?"
                    " ORDER BY e.seq LIMIT ?", (run["id"], after, BATCH))
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
    row = await store.one(
        f"SELECT type FROM events WHERE run_id = ? AND seq <= ? AND type IN"
        f" ({','.join('?' * len(marks))}) ORDER BY seq DESC LIMIT 1", (run_id, after, *marks))
    return row is not None and row["type"] in TERMINAL


# ---- all of the caller's events ------------------------------------------------------------


async def all_events(request: web.Request) -> web.StreamResponse:
    """GET /api/v1/events/stream: every event of the caller's runs, ``id:`` a global event id.
    Without a resume point it starts at the present: a live tail, not the whole history."""
    store: Store = request.app[keys.STORE]
    latest = await store.scalar("SELECT COALESCE(MAX(id), 0) FROM events") or 0
    after = _resume_point(request, default=latest)
    owner = request[keys.USER]["name"]
    async with _Stream(request) as sse:
        committed = True
        while True:
            waiter = sse.next_commit()
            if committed:
                rows = await store.all(
                    f"SELECT {EVENT_COLUMNS} FROM events e JOIN runs r ON r.id = e.run_id"
                    " WHERE e.id > ? AND r.owner = ? ORDER BY e.id LIMIT ?",
                    (after, owner, BATCH))
                for row in rows:
                    await sse.send(row["id"], row["type"], _event_json(row))
                    after = row["id"]
                if len(rows) == BATCH:
                    continue
            committed = await sse.pause(waiter)
    return sse.resp  # the client left (the stream swallowed that); aiohttp wants an answer


# ---- a step's log ----------------------------------------------------------------------------


async def step_log(request: web.Request) -> web.StreamResponse:
    """GET /api/v1/workflows/{id}/steps/{step}/log/stream[?attempt=N]: one event per log
    line (``id:`` = the line's number, from 1), then ``event: end`` with the attempt's status
    once it is no longer running; ``event: attempt`` first names the attempt followed.
    Without ``attempt``, the latest one (waiting for the step to start if it has not)."""
    run = await visible_run(request)
    store: Store = request.app[keys.STORE]
    step = await store.one("SELECT idx, name FROM steps WHERE run_id = ? AND name = ?",
                           (run["id"], request.match_info["step"]))
    if step is None:
        raise NotFound(f"run {run['id']} has no step {request.match_info['step']!r}")
    wanted = _attempt_param(request)
    if wanted is not None and await _attempt(store, run["id"], step["idx"], wanted) is None:
        raise NotFound(f"step {step['name']} has no attempt {wanted}")
    skip = _resume_point(request)
    # Secret inputs are masked in a log file only when its attempt ends: mask what is sent
    # of a running one here, line by line, exactly as the file will be.
    masker = await run_masker(request, run["id"])
    async with _Stream(request) as sse:
        attempt = await _first_attempt(sse, run["id"], step["idx"], wanted)
        if attempt is None:  # the run ended without the step starting
            await sse.send(None, "end", json.dumps({"attempt": None, "status": None}))
            return sse.resp
        await sse.send(None, "attempt", json.dumps({"attempt": attempt["attempt"]}))
        path = _log_path(request, run["id"], step, attempt)
        reader = LogReader(path, skip, request.app[keys.SETTINGS].max_log_bytes)
        await _follow_log(sse, reader, masker, run["id"], step["idx"], attempt)
    return sse.resp


def _attempt_param(request: web.Request) -> int | None:
    raw = request.query.get("attempt")
    if raw is None:
        return None
    if not (raw.isdigit() and int(raw) >= 1):
        raise ValidationFailed("invalid query parameters",
                               [{"path": "attempt", "message": "must be an integer >= 1"}])
    return int(raw)


async def _attempt(store: Store, run_id: str, idx: int, attempt: int | None) -> dict | None:
    sql = "SELECT attempt, status, log_path FROM step_attempts WHERE run_id = ? AND idx = ?"
    if attempt is None:
        return await store.one(sql + " ORDER BY attempt DESC LIMIT 1", (run_id, idx))
    return await store.one(sql + " AND attempt = ?", (run_id, idx, attempt))


async def _first_attempt(sse: _Stream, run_id: str, idx: int, wanted: int | None) -> dict | None:
    """The attempt to follow; None once the run has ended without one."""
    while True:
        waiter = sse.next_commit()
        row = await _attempt(sse.store, run_id, idx, wanted)
        if row is not None:
            waiter.cancel()
            return row
        status = await sse.store.scalar("SELECT status FROM runs WHERE id = ?", (run_id,))
        if status in ("completed", "failed", "cancelled"):
            waiter.cancel()
            return None
        await sse.pause(waiter)


def _log_path(request: web.Request, run_id: str, step: dict, attempt: dict) -> Path:
    if attempt["log_path"]:
        return Path(attempt["log_path"])
    # Recorded only when the attempt ends; while it runs the path is the executor's rule.
    logs = request.app[keys.SUPERVISOR].logs_dir
    return logs / run_id / f"{step['idx']:03d}-{step['name']}.{attempt['attempt']}.log"


async def _follow_log(sse: _Stream, reader: LogReader, masker, run_id: str, idx: int,
                      attempt: dict) -> None:
    status, committed = attempt["status"], False
    try:
        while True:
            waiter = sse.next_commit(LOG_POLL)
            if committed:
                row = await _attempt(sse.store, run_id, idx, attempt["attempt"])
                status = row["status"] if row else "unknown"
            # The status is read first: once it says the attempt is over, the process has
            # exited and these reads reach the true end of the file.
            more = True
            while more:  # a bounded piece at a time: memory stays flat for a large log
                lines, more = await asyncio.to_thread(reader.read, status != "running")
                for number, line in lines:
                    await sse.send(number, None, masker.text(line))
            if status != "running":
                waiter.cancel()
                end = {"attempt": attempt["attempt"], "status": status, "lines": reader.lines}
                await sse.send(None, "end", json.dumps(end, allow_nan=False))
                return
            committed = await sse.pause(waiter, LOG_POLL)
    finally:
        reader.close()
