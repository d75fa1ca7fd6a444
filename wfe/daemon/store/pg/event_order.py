"""The order events were committed in, across nodes: what a user's live stream follows.

An event's id is drawn when its row is inserted, but with several nodes writing at once,
transactions commit in another order than their ids: a stream that had read id 101 would
never see 100 committed a moment later. So each transaction that wrote events, right
before it commits, takes one lock (every node's commits of events queue on it for the
length of a commit) and numbers them from a sequence, ``gseq``: a later commit always
carries higher numbers, and a reader that has seen ``gseq`` N has seen all below it.

A user's stream (GET /api/v1/events/stream) uses ``gseq`` as its event ids on PostgreSQL.
"""

from __future__ import annotations

from typing import Any

from wfe.daemon.store.event_queries import EVENT_COLUMNS

LOCK = 0x77666501  # "wfe\1"
_NUMBER = ("UPDATE events e SET gseq = o.g FROM (SELECT id, nextval('events_gseq') AS g"
           " FROM (SELECT id FROM events WHERE gseq IS NULL ORDER BY id) AS u) AS o"
           " WHERE e.id = o.id")
_COLUMNS = EVENT_COLUMNS.replace("e.id", "e.gseq AS id", 1)


def number(raw: Any) -> None:
    """In the writer's transaction, just before COMMIT (raw psycopg connection)."""
    if raw.execute("SELECT 1 FROM events WHERE gseq IS NULL LIMIT 1").fetchone():
        raw.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK,))
        raw.execute(_NUMBER)


def latest_event_id(conn: Any) -> int:
    return conn.execute("SELECT COALESCE(MAX(gseq), 0) FROM events").fetchone()[0] or 0


def owner_events_after(conn: Any, owner: str, after: int, limit: int) -> list[dict]:
    return [dict(r) for r in conn.execute(
        f"SELECT {_COLUMNS} FROM events e JOIN runs r ON r.id = e.run_id"
        " WHERE e.gseq > ? AND r.owner = ? ORDER BY e.gseq LIMIT ?",
        (after, owner, limit)).fetchall()]
