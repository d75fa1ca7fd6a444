"""Leases: which node executes a run, when several daemons share one PostgreSQL.

A run's lease is its ``lease_node``; it holds while that node is alive, which each node
says for all its leases at once by renewing its own row in ``nodes`` (its heartbeat: one
row, so renewing never conflicts with a write to a run). A node silent for longer than
``lease_seconds``, by the server's clock, has lapsed: another node takes its runs over and
closes the attempts it left running. Every write a Runner makes checks, in the same
transaction, that the run's lease is still its node's (the fence: ``FOR SHARE`` makes a
check that raced a takeover fail with a serialization error, and the retry sees the new
holder), so a node that lapsed and came back commits nothing more for runs it lost.
"""

from __future__ import annotations

import time
from typing import Any

from wfe.daemon.store import ops_handlers, ops_items, ops_recovery
from wfe.daemon.store.util import dumps, now_iso
from wfe.errors import WfeError

CHANNEL = "wfe"
SERVER_NOW = "extract(epoch from clock_timestamp())::float8"
# A run's holder has lapsed (or stopped, or is unknown); ``?`` is lease_seconds.
_LAPSED = f"(n.id IS NULL OR n.stopped_at IS NOT NULL OR n.seen_at < {SERVER_NOW} - ?)"


class Fenced(WfeError):
    """This node no longer holds the run's lease: another node executes it now."""

    code = "fenced"
    http_status = 409


class KeyMismatch(WfeError):
    """This node's secret key is not the one the shared database's secrets are sealed with."""

    code = "key_mismatch"


def notify(conn: Any, message: str) -> None:
    """Delivered to every node's listener when (and only if) the transaction commits."""
    conn.execute("SELECT pg_notify(?, ?)", (CHANNEL, message))


def _holder(conn: Any, run_id: str, seconds: float, lock: str = "") -> tuple | None:
    """(holder, lapsed) of the run's lease; None when there is no such run."""
    return conn.execute(
        f"SELECT r.lease_node, {_LAPSED} FROM runs r LEFT JOIN nodes n ON n.id = r.lease_node"
        f" WHERE r.id = ?{lock}", (seconds, run_id)).fetchone()


def acquire(conn: Any, node: str, run_id: str, seconds: float) -> bool:
    """Take the run's lease unless another node holds it: a live holder is told to look at
    the run again (it may have missed what woke it here); a lapsed one's attempts are closed
    by the takeover first (take_over), never skipped by taking its lease here."""
    row = _holder(conn, run_id, seconds, " FOR UPDATE OF r")
    if row is None:
        return True  # a deleted run: the claim finds nothing to do
    holder, lapsed = row
    if holder not in (None, node):
        if not lapsed:
            notify(conn, f"wake {holder} {run_id}")
        return False
    if holder is None:
        conn.execute("UPDATE runs SET lease_node = ? WHERE id = ?", (node, run_id))
    return True


def claim_due(conn: Any, node: str, now: float, limit: int) -> list[str]:
    """Lease up to ``limit`` due runs nobody holds, skipping rows other nodes are claiming
    this instant: each due run is claimed by exactly one node. Run on a READ COMMITTED
    connection of its own (one statement, atomic), where SKIP LOCKED never conflicts.
    The node says it is alive in the same statement: back from a pause, it must not hold
    new leases that others would find lapsed before its next heartbeat."""
    return [r[0] for r in conn.execute(
        f"WITH alive AS (UPDATE nodes SET seen_at = {SERVER_NOW} WHERE id = ? RETURNING id)"
        " UPDATE runs SET lease_node = (SELECT id FROM alive) WHERE id IN (SELECT id FROM runs"
        " WHERE wake_at <= ? AND lease_node IS NULL ORDER BY wake_at LIMIT ?"
        " FOR UPDATE SKIP LOCKED) AND EXISTS (SELECT 1 FROM alive) RETURNING id",
        (node, now, limit)).fetchall()]


def claim_delivery(conn: Any, node: str, delivery_id: str, hold: float) -> bool:
    """The node whose claim commits first sends the delivery; the others find it no longer
    due. If that node dies, it is due again after ``hold`` seconds (at once when it is
    restarted: see release_deliveries)."""
    now = time.time()
    return conn.execute(
        "UPDATE deliveries SET next_attempt_at = ?, claimed_by = ? WHERE id = ?"
        " AND status = 'pending' AND next_attempt_at <= ? RETURNING id",
        (now + hold, node, delivery_id, now)).fetchone() is not None


def release_deliveries(conn: Any, node: str) -> None:
    """At start: what this node's former self claimed and never recorded is due now."""
    conn.execute("UPDATE deliveries SET next_attempt_at = ?, claimed_by = NULL"
                 " WHERE claimed_by = ? AND status = 'pending'", (time.time(), node))


def mark_due(conn: Any, run_id: str, seconds: float) -> None:
    """Something woke the run on a node that does not execute it: it is due now, for
    whichever node claims it, and a live holder is told to look again."""
    row = _holder(conn, run_id, seconds)
    if row is None:
        return
    now = time.time()
    conn.execute("UPDATE runs SET wake_at = ? WHERE id = ? AND (wake_at IS NULL OR wake_at > ?)",
                 (now, run_id, now))
    if row[0] is not None and not row[1]:
        notify(conn, f"wake {row[0]} {run_id}")
    notify(conn, "due *")


# What the writer reads, FOR SHARE, when it begins a batch: the holder of every run the
# batch's fenced ops write, in one query instead of one per op.
HOLDERS = "SELECT id, lease_node FROM runs WHERE id = ANY(%s) ORDER BY id FOR SHARE"


def fenced(conn: Any, node: str, run_id: str, op: Any, *args: Any) -> Any:
    """``op(conn, *args)`` only while this node holds the run's lease. The holder was read
    FOR SHARE in this transaction (``conn.fences``, by the writer) or is read now; each
    read serves one op, as an op before the next may have moved the lease."""
    fences = getattr(conn, "fences", None)
    if fences and run_id in fences:
        holder = fences.pop(run_id)
    else:
        row = conn.execute("SELECT lease_node FROM runs WHERE id = ? FOR SHARE",
                           (run_id,)).fetchone()
        holder = node if row is None else row[0]  # a deleted run: its op finds nothing
    if holder != node:
        raise Fenced(f"node {node} lost the lease of run {run_id}"
                     + (f" to {holder}" if holder else ""))
    return op(conn, *args)


def fenced_runs(batch: list) -> list[str]:
    """The runs whose leases the batch's fenced ops check, sorted (rows locked in one
    order by every node)."""
    return sorted({args[1] for op, args, _ in batch if op is fenced})


def release(conn: Any, node: str, run_id: str, stopping: bool = False,
            max_recoveries: int = 5) -> None:
    """Hand the run back. A node that is stopping also closes the attempts it interrupted
    (as a restarted daemon would) and makes the run due, for any node to go on with."""
    held = conn.execute("UPDATE runs SET lease_node = NULL WHERE id = ? AND lease_node = ?"
                        " RETURNING id", (run_id, node)).fetchone()
    if not (stopping and held):
        return
    why = "the daemon stopped while this attempt ran"
    attempts = ops_recovery.interrupted_attempts(conn, run_id)
    for a in attempts:
        ops_recovery.close_attempt(conn, a, why)
    items = ops_items.interrupt_items(conn, run_id)
    handlers = ops_handlers.interrupt_run_handlers(conn, run_id, why)
    if attempts or items or handlers:
        ops_recovery.count_recovery(conn, run_id, max_recoveries)
    conn.execute("UPDATE runs SET wake_at = ? WHERE id = ? AND wake_at IS NULL"
                 " AND (status IN ('running', 'pending') OR handlers IN ('pending', 'running'))",
                 (time.time(), run_id))


def renew(conn: Any, node: str, held: list[str], url: str = "") -> list[str]:
    """The node's heartbeat: every lease it holds lives on. Returns the runs of ``held``
    it holds no more (taken over while it was silent)."""
    conn.execute(f"UPDATE nodes SET seen_at = {SERVER_NOW}, url = ?, stopped_at = NULL"
                 " WHERE id = ?", (url, node))
    if not held:
        return []
    kept = {r[0] for r in conn.execute(
        "SELECT id FROM runs WHERE lease_node = ? AND id IN (SELECT value FROM json_each(?))",
        (node, dumps(held))).fetchall()}
    return [r for r in held if r not in kept]


def expired(conn: Any, seconds: float, limit: int = 500) -> list[str]:
    return [r[0] for r in conn.execute(
        "SELECT r.id FROM runs r LEFT JOIN nodes n ON n.id = r.lease_node"
        f" WHERE r.lease_node IS NOT NULL AND {_LAPSED} LIMIT ?", (seconds, limit)).fetchall()]


def take_over(conn: Any, node: str, run_id: str, max_recoveries: int, seconds: float,
              force: bool = False) -> dict | None:
    """Close what the run's lapsed holder left running and free the run for any node (it is
    woken now). ``force``: the holder is this node's former self, restarted."""
    row = _holder(conn, run_id, seconds, " FOR UPDATE OF r")
    if row is None or row[0] is None or not (row[1] or force):
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
    conn.execute("UPDATE runs SET lease_node = NULL, wake_at = CASE WHEN status IN"
                 " ('running', 'pending') OR handlers IN ('pending', 'running') THEN ?"
                 " ELSE wake_at END WHERE id = ?", (time.time(), run_id))
    host = conn.execute("SELECT host FROM nodes WHERE id = ?", (holder,)).fetchone()
    return {"holder": holder, "host": host[0] if host else None, "attempts": attempts}


# The writer's ops that write ``lease_node`` (claim_due and renew run on a connection of
# their own): after one of them, a holder read at the batch's start may be stale.
MOVES_LEASES = frozenset({acquire, release, take_over})


def own_leases(conn: Any, node: str) -> list[str]:
    return [r[0] for r in conn.execute("SELECT id FROM runs WHERE lease_node = ?",
                                       (node,)).fetchall()]


class NodeInUse(WfeError):
    """Another live daemon already is this node."""

    code = "node_in_use"


def register(conn: Any, node: str, host: str, pid: int, url: str, version: str,
             seconds: float, alive: Any) -> None:
    """Join as ``node``; refused while a live daemon elsewhere (or a running process here,
    ``alive(pid)``) already is that node. A former self that died is taken over."""
    row = conn.execute(f"SELECT host, pid, stopped_at IS NULL AND seen_at >= {SERVER_NOW} - ?"
                       " FROM nodes WHERE id = ?", (seconds, node)).fetchone()
    if row is not None and row[2] and (row[0] != host or (row[1] != pid and alive(row[1]))):
        raise NodeInUse(f"node id {node} is in use by a live daemon ({row[0]}, pid {row[1]}):"
                        " give each daemon its own node_id")
    conn.execute(
        "INSERT INTO nodes (id, host, pid, url, version, started_at, seen_at)"
        f" VALUES (?,?,?,?,?,?,{SERVER_NOW}) ON CONFLICT (id) DO UPDATE SET"
        " host = excluded.host, pid = excluded.pid, url = excluded.url,"
        " version = excluded.version, started_at = excluded.started_at,"
        " seen_at = excluded.seen_at, stopped_at = NULL",
        (node, host, pid, url, version, now_iso()))


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


def holder_url(conn: Any, run_id: str, node: str, seconds: float) -> str | None:
    """Where the live node executing the run (another than ``node``) answers, if one does."""
    row = conn.execute(
        "SELECT n.url FROM runs r JOIN nodes n ON n.id = r.lease_node WHERE r.id = ?"
        f" AND r.lease_node <> ? AND n.url <> '' AND NOT {_LAPSED}",
        (run_id, node, seconds)).fetchone()
    return row[0] if row else None
