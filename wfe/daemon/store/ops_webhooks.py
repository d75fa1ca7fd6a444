"""Webhooks and their outbox: subscriptions, delivery outcomes, redelivery, and reads.

Delivery rows are written by ``util.add_event`` in the event's own transaction; here they
are only read, tried again, closed, or pruned once settled and old. Webhooks belong to
their owner: another user's id answers 404 like an unknown one.
"""

from __future__ import annotations

import sqlite3
import time
import uuid

from wfe.daemon.store import Store
from wfe.daemon.store.util import dumps, loads, new_id, now_iso
from wfe.engine.states import TERMINAL
from wfe.engine.webhooks import retry_delay
from wfe.errors import NotFound

TEST_EVENT = "webhook.test"
DELIVERY_COLUMNS = (
    "d.id, d.webhook_id, d.event_id, d.type, d.status, d.attempts, d.next_attempt_at,"
    " d.last_status_code, d.last_error, d.created_at, d.delivered_at"
)


# ---- writes (run in the writer thread) --------------------------------------------------

def create_webhook(conn: sqlite3.Connection, owner: str, url: str, events: list[str],
                   secret: str, secret_header: dict | None = None) -> str:
    """``secret_header`` names a stored secret (``{name, secret, prefix}``), never a value."""
    hook_id = new_id()
    conn.execute(
        "INSERT INTO webhooks (id, owner, url, events, secret, run_id, created_at, secret_header)"
        " VALUES (?,?,?,?,?,NULL,?,?)",
        (hook_id, owner, url, dumps(events), secret, now_iso(),
         dumps(secret_header) if secret_header else None))
    return hook_id


def delete_webhook(conn: sqlite3.Connection, owner: str, hook_id: str) -> None:
    """Its undelivered messages go with it: nobody could see or redeliver them any more."""
    _owned(conn, owner, hook_id)
    conn.execute("DELETE FROM deliveries WHERE webhook_id = ?", (hook_id,))
    conn.execute("DELETE FROM webhooks WHERE id = ?", (hook_id,))


def enqueue_test(conn: sqlite3.Connection, owner: str, hook_id: str) -> str:
    """A ``webhook.test`` message through the same outbox as real events (no event row)."""
    _owned(conn, owner, hook_id)
    msg_id, at = "msg_" + uuid.uuid4().hex, now_iso()
    payload = {"id": msg_id, "type": TEST_EVENT, "timestamp": at,
               "data": {"webhook_id": hook_id, "message": "a test delivery from wfe"}}
    conn.execute(
        "INSERT INTO deliveries (id, webhook_id, event_id, type, payload, status,"
        " next_attempt_at, created_at) VALUES (?,?,0,?,?,'pending',?,?)",
        (msg_id, hook_id, TEST_EVENT, dumps(payload), time.time(), at))
    return msg_id


def redeliver(conn: sqlite3.Connection, owner: str, hook_id: str, delivery_id: str) -> None:
    """Due now with a fresh retry schedule; the message (and so webhook-id) is unchanged,
    so a receiver that already has it can tell it is the same one."""
    _owned(conn, owner, hook_id)
    cur = conn.execute(
        "UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = ?,"
        " delivered_at = NULL WHERE id = ? AND webhook_id = ?",
        (time.time(), delivery_id, hook_id))
    if cur.rowcount == 0:
        raise NotFound(f"delivery {delivery_id} not found")


def record_success(conn: sqlite3.Connection, delivery_id: str, code: int) -> None:
    conn.execute(
        "UPDATE deliveries SET status = 'delivered', attempts = attempts + 1,"
        " last_status_code = ?, last_error = NULL, next_attempt_at = NULL, delivered_at = ?"
        " WHERE id = ? AND status = 'pending'", (code, now_iso(), delivery_id))


def record_failure(conn: sqlite3.Connection, delivery_id: str, code: int | None, error: str,
                   base: float, rand: float, permanent: bool = False) -> str | None:
    """Count the attempt and schedule the next, or mark the delivery failed. The delay is
    decided here, on the committed count, so a redelivery racing an attempt stays sound."""
    row = conn.execute("SELECT attempts FROM deliveries WHERE id = ? AND status = 'pending'",
                       (delivery_id,)).fetchone()
    if row is None:  # deleted with its webhook meanwhile
        return None
    attempts = row["attempts"] + 1
    delay = None if permanent else retry_delay(attempts, base, rand)
    status = "pending" if delay is not None else "failed"
    next_at = time.time() + delay if delay is not None else None
    conn.execute(
        "UPDATE deliveries SET status = ?, attempts = ?, last_status_code = ?, last_error = ?,"
        " next_attempt_at = ? WHERE id = ?",
        (status, attempts, code, error[:1000], next_at, delivery_id))
    return status


def prune_deliveries(conn: sqlite3.Connection, cutoff: str, after: int,
                     limit: int) -> tuple[int, int | None]:
    """Delete settled deliveries older than ``cutoff`` among the ``limit`` rows after rowid
    ``after``; return how many went and where the next batch starts (None: done).

    The single writer inserts rows in time order, so the expired ones lead the table in
    rowid order: walking it from the start and stopping at the first row created after the
    cutoff costs about as many reads as there are rows to delete, with no index on age
    (a jump of the clock only delays some rows to a later pass). Age counts from the last
    delivery, so a message redelivered lately is kept as long as a new one.
    """
    rows = conn.execute(
        "SELECT rowid, status, created_at, delivered_at FROM deliveries WHERE rowid > ?"
        " ORDER BY rowid LIMIT ?", (after, limit)).fetchall()
    doomed, nxt = [], (rows[-1][0] if len(rows) == limit else None)
    for rowid, status, created_at, delivered_at in rows:
        if created_at >= cutoff:
            nxt = None
            break
        if status != "pending" and (delivered_at or created_at) < cutoff:
            doomed.append((rowid,))
    conn.executemany("DELETE FROM deliveries WHERE rowid = ?", doomed)
    return len(doomed), nxt


def remove_ended_run_hooks(conn: sqlite3.Connection, cutoff: str, limit: int) -> int:
    """Drop callback_url hooks of runs that ended before ``cutoff`` and have nothing left
    to deliver, with their deliveries, so none is left unreachable (the API finds a
    delivery through its hook). Returns how many hooks went.

    Waiting the retention after the end, not removing at once: retry and rollback make an
    ended run active again, and its caller still expects those events at callback_url;
    the hook's delivery history also stays readable as long as any other. A run retried
    later than that goes on without its callback_url. A pending delivery (the last events
    still being retried) holds the hook whatever its age.
    """
    ended = ",".join(f"'{s.value}'" for s in TERMINAL)
    hooks = conn.execute(
        "SELECT w.id FROM webhooks w JOIN runs r ON r.id = w.run_id"
        f" WHERE w.run_id IS NOT NULL AND r.status IN ({ended}) AND r.finished_at < ?"
        " AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.webhook_id = w.id"
        " AND d.status = 'pending') LIMIT ?", (cutoff, limit)).fetchall()
    for (hook_id,) in hooks:
        conn.execute("DELETE FROM deliveries WHERE webhook_id = ?", (hook_id,))
        conn.execute("DELETE FROM webhooks WHERE id = ?", (hook_id,))
    return len(hooks)


def _owned(conn: sqlite3.Connection, owner: str, hook_id: str) -> None:
    row = conn.execute("SELECT 1 FROM webhooks WHERE id = ? AND owner = ?",
                       (hook_id, owner)).fetchone()
    if row is None:
        raise NotFound(f"webhook {hook_id} not found")


# ---- reads (reader connection) ----------------------------------------------------------

def webhook_view(row: dict) -> dict:
    return {"id": row["id"], "url": row["url"], "events": loads(row["events"]),
            "run_id": row["run_id"], "created_at": row["created_at"],
            "secret_header": loads(row["secret_header"]) if row["secret_header"] else None}


def delivery_view(row: dict) -> dict:
    view = {k: row[k] for k in ("id", "webhook_id", "type", "status", "attempts",
                                "last_status_code", "last_error", "created_at",
                                "delivered_at")}
    view["event_id"] = row["event_id"] or None  # 0: a test message, not an event
    nxt = row["next_attempt_at"]
    view["next_attempt_at"] = now_iso(nxt) if nxt is not None else None
    if "payload" in row:
        view["payload"] = loads(row["payload"])
    return view


async def get_webhook(store: Store, owner: str, hook_id: str) -> dict | None:
    row = await store.one("SELECT * FROM webhooks WHERE id = ? AND owner = ?", (hook_id, owner))
    return webhook_view(row) if row else None


async def list_webhooks(store: Store, owner: str, run_id: str | None, limit: int,
                        offset: int) -> tuple[list[dict], int]:
    """The owner's standing webhooks, or with ``run_id`` that run's callback_url hook."""
    where = "owner = ? AND " + ("run_id = ?" if run_id else "run_id IS NULL")
    params = (owner, run_id) if run_id else (owner,)
    rows = await store.all(f"SELECT * FROM webhooks WHERE {where} ORDER BY created_at DESC"
                           " LIMIT ? OFFSET ?", (*params, limit, offset))
    total = await store.scalar(f"SELECT COUNT(*) FROM webhooks WHERE {where}", params)
    return [webhook_view(r) for r in rows], total


# Failing: given up on, or failed at least once and waiting to be tried again (the delivery
# loop keeps the last error until one attempt gets through).
FAILING = ("(d.status = 'failed' OR (d.status = 'pending' AND d.attempts > 0"
           " AND d.last_error IS NOT NULL))")


async def list_deliveries(store: Store, hook_id: str, status: str | None, limit: int,
                          offset: int, failing: bool = False) -> tuple[list[dict], int]:
    where, params = "d.webhook_id = ?", [hook_id]
    if status:
        where += " AND d.status = ?"
        params.append(status)
    if failing:
        where += f" AND {FAILING}"
    rows = await store.all(
        f"SELECT {DELIVERY_COLUMNS} FROM deliveries d WHERE {where}"
        " ORDER BY d.created_at DESC, d.rowid DESC LIMIT ? OFFSET ?", (*params, limit, offset))
    total = await store.scalar(f"SELECT COUNT(*) FROM deliveries d WHERE {where}", tuple(params))
    return [delivery_view(r) for r in rows], total


async def get_delivery(store: Store, owner: str, delivery_id: str) -> dict | None:
    row = await store.one(
        f"SELECT {DELIVERY_COLUMNS}, d.payload FROM deliveries d"
        " JOIN webhooks w ON w.id = d.webhook_id WHERE d.id = ? AND w.owner = ?",
        (delivery_id, owner))
    return delivery_view(row) if row else None


async def next_pending(store: Store, limit: int) -> list[dict]:
    """The pending deliveries that are due first, with where and how to send them."""
    return await store.all(
        "SELECT d.id, d.payload, d.next_attempt_at, w.url, w.secret, w.owner, w.secret_header"
        " FROM deliveries d"
        " JOIN webhooks w ON w.id = d.webhook_id WHERE d.status = 'pending'"
        " ORDER BY d.next_attempt_at LIMIT ?", (limit,))
