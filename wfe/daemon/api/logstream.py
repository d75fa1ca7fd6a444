"""A step's log, or a foreach item's, as Server-Sent Events, through all of its attempts.

Each attempt followed opens with ``event: attempt``; each line is an event whose ``id:`` is
``ATTEMPT:LINE`` (``2:15``: line 15 of attempt 2); ``event: end`` (``id: ATTEMPT:end``)
closes the attempt with its status. Ids are ordered by attempt, then line, so a client that
reconnects with ``Last-Event-ID`` gets exactly what came after it: the rest of its attempt,
then every later attempt from its first line (a retry that started meanwhile included).
Without ``?attempt=`` the stream starts at the resume point's attempt, else the latest, and
goes on through each retry until the step (or item) starts no more; with it, it follows
that one attempt.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from wfe.daemon import keys
from wfe.daemon.api.common import run_masker, visible_run
from wfe.daemon.api.forward import forwarded
from wfe.daemon.api.logreader import LogReader
from wfe.daemon.api.stream import EventStream
from wfe.daemon.store import log_queries
from wfe.errors import BadRequest, NotFound, ValidationFailed

# A step's log file grows without any commit, so a running attempt's file is read this often.
LOG_POLL = 0.25
_ID = re.compile(r"(?:([0-9]{1,9}):)?([0-9]{1,18}|end)")


@dataclass(frozen=True)
class Resume:
    """What a client already has: lines of ``attempt`` (None: an id of the old form, a bare
    line number, which counts in the first attempt the stream follows), or all of it."""

    attempt: int | None
    lines: int
    ended: bool = False

    def skips(self, attempt: int, first: bool) -> int:
        """How many lines of ``attempt`` the client has (-1: all of it, its end too)."""
        if self.attempt is None:
            return self.lines if first else 0
        if attempt != self.attempt:
            return 0 if attempt > self.attempt else -1
        return -1 if self.ended else self.lines


@dataclass
class Target:
    """The log asked for: a step's, or one item's of a foreach step."""

    run_id: str
    idx: int
    name: str
    item: int | None

    def path(self, logs: Path, attempt: int) -> Path:
        """Where a running attempt writes (recorded in its row only when it ends)."""
        name = self.name if self.item is None else f"{self.name}.{self.item}"
        return logs / self.run_id / f"{self.idx:03d}-{name}.{attempt}.log"


def resume_point(request: web.Request) -> Resume | None:
    """Last-Event-ID (what a reconnecting EventSource sends), else ``?after=``; 400 naming
    which one when it is not an id this stream sent."""
    for name, raw in (("Last-Event-ID", request.headers.get("Last-Event-ID")),
                      ("after", request.query.get("after"))):
        if raw is None or raw.strip() == "":
            continue
        found = _ID.fullmatch(raw.strip())
        if found is None or (found.group(1) is None and found.group(2) == "end"):
            raise BadRequest(f"{name} is not an id of this stream", [{
                "path": name, "message": "must be ATTEMPT:LINE or ATTEMPT:end (as in the"
                                         " stream's id: fields), or a line number"}])
        attempt, line = found.group(1), found.group(2)
        if line == "end":
            return Resume(int(attempt), 0, ended=True)
        return Resume(int(attempt) if attempt else None, int(line))
    return None


def _int_param(request: web.Request, name: str, low: int) -> int | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    if not (raw.isdigit() and len(raw) <= 18 and int(raw) >= low):
        raise ValidationFailed("invalid query parameters",
                               [{"path": name, "message": f"must be an integer >= {low}"}])
    return int(raw)


async def step_log(request: web.Request) -> web.StreamResponse:
    """GET /api/v1/workflows/{id}/steps/{step}/log/stream[?attempt=N][&item=I]"""
    run = await visible_run(request)
    relayed = await forwarded(request, run["id"])
    if relayed is not None:
        return relayed
    store = request.app[keys.STORE]
    name = request.match_info["step"]
    idx = await log_queries.step_index(store, run["id"], name)
    if idx is None:
        raise NotFound(f"run {run['id']} has no step {name!r}")
    target = Target(run["id"], idx, name, _int_param(request, "item", 0))
    wanted = _int_param(request, "attempt", 1)
    if wanted is not None and await log_queries.attempt(
            store, run["id"], idx, target.item, wanted) is None:
        raise NotFound(f"{_what(target)} has no attempt {wanted}")
    resume = resume_point(request) or Resume(None, 0)
    # Secret inputs are masked in a log file only when its attempt ends: mask what is sent
    # of a running one here, line by line, exactly as the file will be.
    masker = await run_masker(request, run["id"])
    async with EventStream(request) as sse:
        await _follow(sse, target, wanted, resume, masker)
    return sse.resp


def _what(target: Target) -> str:
    return f"step {target.name}" + ("" if target.item is None else f" item {target.item}")


async def _follow(sse: EventStream, target: Target, wanted: int | None, resume: Resume,
                  masker) -> None:
    start = wanted if wanted is not None else resume.attempt
    row = await _next_attempt(sse, target, start, None)
    if row is None:  # the run ended without the step starting
        await sse.send(None, "end", json.dumps({"attempt": None, "status": None}))
        return
    first = True
    while row is not None:
        number = row["attempt"]
        skip = resume.skips(number, first)
        first = False
        if skip >= 0:
            await sse.send(None, "attempt", json.dumps({"attempt": number}))
            reader = LogReader(_log_path(sse, target, row), skip,
                               sse.request.app[keys.SETTINGS].max_log_bytes)
            await _follow_attempt(sse, reader, masker, target, row)
        if wanted is not None:
            return
        row = await _next_attempt(sse, target, None, number)


async def _next_attempt(sse: EventStream, target: Target, number: int | None,
                        after: int | None) -> dict | None:
    """Attempt ``number`` (else the one after ``after``, else the latest) once it exists;
    None once the step (or item) will start no more."""
    store = sse.store
    while True:
        waiter = sse.next_commit()
        row = await log_queries.attempt(store, target.run_id, target.idx, target.item,
                                        number, after)
        if row is not None or not await log_queries.may_run_again(
                store, target.run_id, target.idx, target.item):
            waiter.cancel()
            return row
        await sse.pause(waiter)


def _log_path(sse: EventStream, target: Target, row: dict) -> Path:
    if row["log_path"]:
        return Path(row["log_path"])
    return target.path(sse.request.app[keys.SUPERVISOR].logs_dir, row["attempt"])


async def _follow_attempt(sse: EventStream, reader: LogReader, masker, target: Target,
                          row: dict) -> None:
    number, status, committed = row["attempt"], row["status"], False
    try:
        while True:
            waiter = sse.next_commit(LOG_POLL)
            if committed:
                now = await log_queries.attempt(sse.store, target.run_id, target.idx,
                                                target.item, number)
                status = now["status"] if now else "unknown"
            # The status is read first: once it says the attempt is over, the process has
            # exited and these reads reach the true end of the file.
            more = True
            while more:  # a bounded piece at a time: memory stays flat for a large log
                lines, more = await asyncio.to_thread(reader.read, status != "running")
                for line_no, line in lines:
                    await sse.send(f"{number}:{line_no}", None, masker.text(line))
            if status != "running":
                waiter.cancel()
                end = {"attempt": number, "status": status, "lines": reader.lines}
                await sse.send(f"{number}:end", "end", json.dumps(end, allow_nan=False))
                return
            committed = await sse.pause(waiter, LOG_POLL)
    finally:
        reader.close()
