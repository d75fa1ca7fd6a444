"""Small helpers shared by the store's operations."""

from __future__ import annotations

import errno
import fnmatch
import json
import os
import sqlite3
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from wfe.engine.audit import event_hash  # one definition: the verifier recomputes it
from wfe.errors import StorageFull

SYSTEM = "system"
_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)


def now_iso(ts: float | None = None) -> str:
    dt = datetime.fromtimestamp(time.time() if ts is None else ts, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_id() -> str:
    # Random (v4), not time-ordered (v7): people type unique prefixes of run ids, and ids
    # made in the same second would share their first twelve characters.
    return str(uuid.uuid4())


def ordered_id() -> str:
    """A UUID version 7 (RFC 9562): 48 bits of milliseconds, then 74 random bits.

    For snapshots, which are written after every step and addressed by whole id only:
    ids made together sort together, so their index grows at one end instead of dirtying a
    random page per step (run ids stay v4, since people type their prefixes).
    """
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | (rand >> 68 & 0xFFF) << 64 \
        | 0b10 << 62 | (rand & ((1 << 62) - 1))
    return str(uuid.UUID(int=value))


def dumps(value: Any) -> str:
    """What the store writes is strict JSON: a NaN or an Infinity raises ValueError (and
    undoes the op) rather than be stored and served to parsers that refuse it."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str,
                      allow_nan=False)


def _legacy_constant(name: str) -> None:
    return None  # a NaN or Infinity stored before they were refused reads as null


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text, parse_constant=_legacy_constant)


def add_event(conn: sqlite3.Connection, run_id: str, type_: str, actor: str,
              data: dict | None = None) -> int:
    """Append one event with the run's next sequence number (no gaps: same transaction).

    Webhook deliveries for it are written in the same transaction (the outbox), so an
    event that is committed is never lost to a crash before its delivery.
    """
    seq, prev, owner = conn.execute(
        "UPDATE runs SET last_seq = last_seq + 1 WHERE id = ? RETURNING last_seq, last_hash, owner",
        (run_id,),
    ).fetchone()
    at, payload = now_iso(), dumps(data or {})
    digest = event_hash(prev, run_id, seq, type_, actor, at, payload)
    (event_id,) = conn.execute(
        "INSERT INTO events (run_id, seq, type, actor, at, data, hash) VALUES (?,?,?,?,?,?,?)"
        " RETURNING id", (run_id, seq, type_, actor, at, payload, digest)).fetchone()
    conn.execute("UPDATE runs SET last_hash = ? WHERE id = ?", (digest, run_id))
    hooks = conn.execute(
        "SELECT id, events FROM webhooks WHERE (owner = ? AND run_id IS NULL) OR run_id = ?",
        (owner, run_id)).fetchall()
    if hooks:
        body = {"type": type_, "timestamp": at, "data": {
            "run_id": run_id, "seq": seq, "actor": actor, **(data or {})}}
        enqueue_deliveries(conn, hooks, event_id, type_, body, at)
    return seq


def append_events(conn: sqlite3.Connection, run_id: str, seq: int, head: str, owner: str,
                  events: list[tuple[str, str, dict | None]]) -> tuple[int, str]:
    """Append several events after (seq, head) read by the caller; returns the new pair.

    The caller writes it to the run row with whatever else it updates there, so the chain
    costs one executemany and no UPDATE of its own. Deliveries go in the same transaction.
    """
    at = now_iso()
    rows = []
    for type_, actor, data in events:
        seq += 1
        payload = dumps(data or {})
        head = event_hash(head, run_id, seq, type_, actor, at, payload)
        rows.append((run_id, seq, type_, actor, at, payload, head))
    conn.executemany(
        "INSERT INTO events (run_id, seq, type, actor, at, data, hash) VALUES (?,?,?,?,?,?,?)",
        rows)
    hooks = conn.execute(
        "SELECT id, events FROM webhooks WHERE (owner = ? AND run_id IS NULL) OR run_id = ?",
        (owner, run_id)).fetchall()
    pairs = zip(rows, events, strict=True) if hooks else ()
    for (_, s, type_, actor, _, _, _), (_, _, data) in pairs:
        event_id = conn.execute("SELECT id FROM events WHERE run_id = ? AND seq = ?",
                                (run_id, s)).fetchone()[0]
        body = {"type": type_, "timestamp": at, "data": {
            "run_id": run_id, "seq": s, "actor": actor, **(data or {})}}
        enqueue_deliveries(conn, hooks, event_id, type_, body, at)
    return seq, head


def event_matches(patterns: list[str], type_: str) -> bool:
    return any(fnmatch.fnmatchcase(type_, p) for p in patterns)


def enqueue_deliveries(conn: sqlite3.Connection, hooks, event_id: int, type_: str, body: dict,
                       at: str) -> None:
    for hook_id, patterns in hooks:
        if not event_matches(json.loads(patterns), type_):
            continue
        delivery_id = "msg_" + uuid.uuid4().hex
        conn.execute(
            "INSERT INTO deliveries (id, webhook_id, event_id, type, payload, status,"
            " next_attempt_at, created_at) VALUES (?,?,?,?,?,'pending',?,?)",
            (delivery_id, hook_id, event_id, type_, dumps({"id": delivery_id, **body}),
             time.time(), at))


def is_full(exc: BaseException) -> bool:
    """A full disk: SQLite's SQLITE_FULL, or ENOSPC / EDQUOT from a file."""
    if isinstance(exc, StorageFull):
        return True
    if isinstance(exc, sqlite3.OperationalError):
        code = getattr(exc, "sqlite_errorcode", None)
        return code == sqlite3.SQLITE_FULL or "disk is full" in str(exc)
    return isinstance(exc, OSError) and exc.errno in _FULL_ERRNOS
