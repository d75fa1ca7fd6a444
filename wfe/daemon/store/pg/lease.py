"""Leases: which node executes a run, when several daemons share one PostgreSQL.

A Runner acquires its run's lease before it claims the run, every write it makes checks the
lease is still its node's (the fence: ``FOR SHARE`` makes a check that raced a takeover fail
with a serialization error, and the retry then sees the new holder), the heartbeat renews
the leases of a node's live Runners in one statement, and a lease that is not renewed in
time is taken over by another node, which closes the attempts it left running.
"""

from __future__ import annotations

import time
from typing import Any

from wfe.daemon.store import ops_handlers, ops_items, ops_recovery
from wfe.daemon.store.util import dumps, now_iso
from wfe.errors import WfeError

CHANNEL = "wfe"


class Fenced(WfeError):
    """This node no longer holds the run's lease: another node executes it now."""

    code = "fenced"
    http_status = 409


def notify(conn: Any, message: str) -> None:
    """Delivered to every node's listener when (and only if) the transaction commits."""
    conn.execute("SELECT pg_notify(?, ?)", (CHANNEL, message))


def acquire(conn: Any, node: str, run_id: str, seconds: float) -> bool:
    """Take the run's lease unless another node holds it: a live holder is told to look at
    the run again (it may have missed what woke it here); a lapsed one's attempts are closed
    by the takeover first (take_over), never skipped by taking its lease here."""
    now = time.time()
    row = conn.execute("SELECT lease_node, lease_until FROM runs WHERE id = ? FOR UPDATE",
                       (run_id,)).fetchone()
    if row is None:
        return True  # a deleted run: the claim finds nothing to do
    holder, until = row
    if holder not in (None, node):
        if until >= now:
            notify(conn, f"wake {holder} {run_id}")
        return False
    conn.execute("UPDATE runs SET lease_node = ?, lease_until = ? WHERE id = ?",
                 (node, now + seconds, run_id))
    return True


def claim_due(conn: Any, node: str, now: float, limit: int, seconds: float) -> list[str]:
    """Lease up to ``limit`` due runs nobody holds, skipping rows other nodes are claiming
    this instant: each due run is claimed by exactly one node. Run on a READ COMMITTED
    connection of its own (one statement, atomic), where SKIP LOCKED never conflicts."""
    return [r[0] for r in conn.execute(
        "UPDATE runs SET lease_node = ?, lease_until = ? WHERE id IN (SELECT id FROM runs"
        " WHERE wake_at <= ? AND lease_node IS NULL ORDER BY wake_at LIMIT ?"
        " FOR UPDATE SKIP LOCKED) RETURNING id", (node, now + seconds, now, limit)).fetchall()]


def mark_due(conn: Any, run_id: str) -> None:
    """Something woke the run on a node that does not execute it: it is due now, for
    whichever node claims it, and a live holder is told to look again."""
    row = conn.execute("SELECT lease_node, lease_until FROM runs WHERE id = ?",
                       (run_id,)).fetchone()
    if row is None:
        return
    conn.execute("UPDATE runs SET wake_at = ? WHERE id = ? AND (wake_at IS NULL OR wake_at > ?)",
                 (time.time(), run_id, time.time()))
    if row[0] is not None and row[1] >= time.time():
        notify(conn, f"wake {row[0]} {run_id}")
    notify(conn, "due *")


def fenced(conn: Any, node: str, run_id: str, op: Any, *args: Any) -> Any:
    """``op(conn, *args)`` only while this node holds the run's lease."""
    row = conn.execute("SELECT lease_node FROM runs WHERE id = ? FOR SHARE",
                       (run_id,)).fetchone()
    if row is not None and row[0] != node:
        raise Fenced(f"node {node} lost the lease of run {run_id}"
                     + (f" to {row[0]}" if row[0] else ""))
    return op(conn, *args)


def release(conn: Any, node: str, run_id: str, wake: bool = False) -> None:
    conn.execute("UPDATE runs SET lease_node = NULL, lease_until = NULL"
                 " WHERE id = ? AND lease_node = ?", (run_id, node))
    if wake:
        conn.execute("UPDATE runs SET wake_at = ? WHERE id = ? AND wake_at IS NULL"
                     " AND status IN ('running', 'pending')", (time.time(), run_id))


def renew(conn: Any, node: str, run_ids: list[str], seconds: float, url: str = "") -> list[str]:
    """Extend the leases this node still holds; returns the runs it holds no more."""
    now = time.time()
    conn.execute("UPDATE nodes SET seen_at = ?, url = ?, stopped_at = NULL WHERE id = ?",
                 (now, url, node))
    if not run_ids:
        return []
    kept = {r[0] for r in conn.execute(
        "UPDATE runs SET lease_until = ? WHERE lease_node = ? AND id IN"
        " (SELECT value FROM json_each(?)) RETURNING id",
        (now + seconds, node, dumps(run_ids))).fetchall()}
    return [r for r in run_ids if r not in kept]


def expired(conn: Any, now: float, limit: int = 500) -> list[str]:
    return [r[0] for r in conn.execute(
        "SELECT id FROM runs WHERE lease_node IS NOT NULL AND lease_until < ?"
        " ORDER BY lease_until LIMIT ?", (now, limit)).fetchall()]


def take_over(conn: Any, node: str, run_id: str, max_recoveries: int,
              force: bool = False) -> dict | None:
    """Close what the run's lapsed holder left running and free the run for any node (it is
    woken now). ``force``: the holder is this node's former self, restarted."""
    row = conn.execute("SELECT lease_node, lease_until FROM runs WHERE id = ? FOR UPDATE",
                       (run_id,)).fetchone()
    if row is None or row[0] is None or (row[1] >= time.time() and not force):
        return None
    holder = row[0]
    why = f"node {holder} stopped renewing its lease while this attempt ran"
    attempts = ops_recovery.interrupted_attempts(conn, run_id)
    for a in attempts:
        ops_recovery.close_attempt(conn, a, why)
    items = ops_items.interrupt_items(conn, run_id)
    handlers = ops_handlers.interrupt_run_handlers(conn, run_id, why)
    if attempts or items or handlers:
        ops_recovery.count_recovery(conn, run_id, max_recoveries)
    conn.execute("UPDATE runs SET lease_node = NULL, lease_until = NULL,"
                 " wake_at = CASE WHEN status IN ('running', 'pending') OR handlers IN"
                 " ('pending', 'running') THEN ? ELSE wake_at END WHERE id = ?",
                 (time.time(), run_id))
    host = conn.execute("SELECT host FROM nodes WHERE id = ?", (holder,)).fetchone()
    return {"holder": holder, "host": host[0] if host else None, "attempts": attempts}


def own_leases(conn: Any, node: str) -> list[str]:
    return [r[0] for r in conn.execute("SELECT id FROM runs WHERE lease_node = ?",
                                       (node,)).fetchall()]


def register(conn: Any, node: str, host: str, pid: int, url: str, version: str) -> None:
    conn.execute(
        "INSERT INTO nodes (id, host, pid, url, version, started_at, seen_at)"
        " VALUES (?,?,?,?,?,?,?) ON CONFLICT (id) DO UPDATE SET host = excluded.host,"
        " pid = excluded.pid, url = excluded.url, version = excluded.version,"
        " started_at = excluded.started_at, seen_at = excluded.seen_at, stopped_at = NULL",
        (node, host, pid, url, version, now_iso(), time.time()))


class KeyMismatch(WfeError):
    """This node's secret key is not the one the shared database's secrets are sealed with."""

    code = "key_mismatch"


def check_key(conn: Any, digest: str) -> None:
    """Every node must seal and open secrets with one key: the first node records which
    (a keyed digest of it, not the key), and a node given another one refuses to start."""
    row = conn.execute("SELECT value FROM meta WHERE key = 'secret_key_check'").fetchone()
    if row is None:
        conn.execute("INSERT INTO meta (key, value) VALUES ('secret_key_check', ?)", (digest,))
    elif row[0] != digest:
        raise KeyMismatch("this node's secret key differs from the one the shared database's"
                          " secrets are sealed with: give every node the same secret_key_file")


def unregister(conn: Any, node: str) -> None:
    conn.execute("UPDATE nodes SET stopped_at = ? WHERE id = ?", (now_iso(), node))
    notify(conn, f"stopped {node}")
