"""What the event streams read: a run's events by seq, a user's by global id."""

from __future__ import annotations

from typing import Any

EVENT_COLUMNS = "e.id, e.run_id, e.seq, e.type, e.actor, e.at, e.data"


def run_events_after(conn: Any, run_id: str, after: int, limit: int) -> list[dict]:
    return [dict(r) for r in conn.execute(
        f"SELECT {EVENT_COLUMNS} FROM events e WHERE e.run_id = ? AND e.seq > ?"
        " ORDER BY e.seq LIMIT ?", (run_id, after, limit)).fetchall()]


def last_mark(conn: Any, run_id: str, after: int, marks: tuple[str, ...]) -> str | None:
    """The type of the last of ``marks`` among the run's events up to ``after``."""
    row = conn.execute(
        f"SELECT type FROM events WHERE run_id = ? AND seq <= ? AND type IN"
        f" ({','.join('?' * len(marks))}) ORDER BY seq DESC LIMIT 1",
        (run_id, after, *marks)).fetchone()
    return None if row is None else row[0]


def latest_event_id(conn: Any) -> int:
    return conn.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0] or 0


def owner_events_after(conn: Any, owner: str, after: int, limit: int) -> list[dict]:
    return [dict(r) for r in conn.execute(
        f"SELECT {EVENT_COLUMNS} FROM events e JOIN runs r ON r.id = e.run_id"
        " WHERE e.id > ? AND r.owner = ? ORDER BY e.id LIMIT ?",
        (after, owner, limit)).fetchall()]
