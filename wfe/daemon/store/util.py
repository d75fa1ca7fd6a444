"""Small helpers shared by the store's operations."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
import uuid
from datetime import UTC, datetime
from typing import Any

SYSTEM = "system"


def now_iso(ts: float | None = None) -> str:
    dt = datetime.fromtimestamp(time.time() if ts is None else ts, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_id() -> str:
    return str(uuid.uuid4())


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def event_hash(prev: str, run_id: str, seq: int, type_: str, actor: str, at: str, data: str) -> str:
    """Each event's hash covers the previous one, so a rewritten event breaks the chain."""
    h = hashlib.sha256()
    for part in (prev, run_id, str(seq), type_, actor, at, data):
        h.update(part.encode())
        h.update(b"\x1f")
    return h.hexdigest()


def add_event(conn: sqlite3.Connection, run_id: str, type_: str, actor: str, data: dict | None = None) -> int:
    """Append one event with the run's next sequence number (no gaps: same transaction)."""
    seq, prev = conn.execute(
        "UPDATE runs SET last_seq = last_seq + 1 WHERE id = ? RETURNING last_seq, last_hash",
        (run_id,),
    ).fetchone()
    at, payload = now_iso(), dumps(data or {})
    digest = event_hash(prev, run_id, seq, type_, actor, at, payload)
    conn.execute(
        "INSERT INTO events (run_id, seq, type, actor, at, data, hash) VALUES (?,?,?,?,?,?,?)",
        (run_id, seq, type_, actor, at, payload, digest),
    )
    conn.execute("UPDATE runs SET last_hash = ? WHERE id = ?", (digest, run_id))
    return seq
