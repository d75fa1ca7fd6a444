"""Idempotency keys of run starts: the key's row is written in the run's own transaction.

A key is ``(owner, key)``; its row holds a fingerprint of the request body and the run it
started. A row older than the window counts as absent (and is replaced), so pruning only
bounds the table's size; it never decides an answer.
"""

from __future__ import annotations

import sqlite3
import time

from wfe.daemon.store import Store
from wfe.daemon.store.ops_runs import create_run

PRUNE_BATCH = 500  # rows per write, so pruning never holds the writer long


class KeyTaken(Exception):
    """The key was already used (the primary key said so); the op's writes are undone."""

    def __init__(self, run_id: str, body_hash: str) -> None:
        super().__init__(run_id)
        self.run_id = run_id
        self.body_hash = body_hash


async def find_key(store: Store, owner: str, key: str, window: float) -> tuple[str, str] | None:
    """``(run_id, body_hash)`` of a live key, else None."""
    row = await store.one(
        "SELECT run_id, body_hash FROM idempotency_keys WHERE owner = ? AND key = ?"
        " AND created_at >= ?", (owner, key, time.time() - window))
    return (row["run_id"], row["body_hash"]) if row else None


def create_run_once(conn: sqlite3.Connection, owner: str, key: str, body_hash: str,
                    window: float, *create_args) -> str:
    """``create_run`` and the key's row together; KeyTaken (nothing written) when a live
    row for the key exists: that run is the answer."""
    conn.execute("DELETE FROM idempotency_keys WHERE owner = ? AND key = ? AND created_at < ?",
                 (owner, key, time.time() - window))
    run_id = create_run(conn, owner, *create_args)
    inserted = conn.execute(
        "INSERT INTO idempotency_keys (owner, key, body_hash, run_id, created_at)"
        " VALUES (?,?,?,?,?) ON CONFLICT (owner, key) DO NOTHING",
        (owner, key, body_hash, run_id, time.time())).rowcount
    if not inserted:
        row = conn.execute("SELECT run_id, body_hash FROM idempotency_keys"
                           " WHERE owner = ? AND key = ?", (owner, key)).fetchone()
        raise KeyTaken(row["run_id"], row["body_hash"])  # the writer rolls the run back
    return run_id


def prune_keys(conn: sqlite3.Connection, cutoff: float, limit: int = PRUNE_BATCH) -> int:
    return conn.execute(
        "DELETE FROM idempotency_keys WHERE rowid IN (SELECT rowid FROM idempotency_keys"
        " WHERE created_at < ? LIMIT ?)", (cutoff, limit)).rowcount


async def prune(store: Store, window: float) -> int:
    """Every key older than the window, a batch per write so others go between them."""
    cutoff, total = time.time() - window, 0
    while True:
        n = await store.write(prune_keys, cutoff)
        total += n
        if n < PRUNE_BATCH:
            return total
