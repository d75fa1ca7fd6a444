"""Deleting ended runs (``wfe rm``, DELETE /workflows/{id}, retention), in the writer.

A run goes with everything keyed by it, and with its sub-workflow runs. Each deleted run
leaves a ``run.deleted`` record in ``global_events`` (who, when, its template and the head
of its event chain): the triggers of the "deleting runs" migration let a run's events go
only once that record exists and the run row is gone, so the audit log never loses a run
silently. The log files are removed by the caller once the deletion is committed.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection

from wfe.daemon.store.util import dumps, now_iso
from wfe.engine import retention
from wfe.errors import InvalidTransition, NotFound

# Every table with a run's rows, besides runs and events (tests check none is missed).
RUN_TABLES = ("approvals", "callbacks", "snapshots", "step_attempts", "steps", "step_items",
              "item_attempts", "handler_steps", "idempotency_keys")
# Pages returned to the file system per incremental vacuum: bounded, so one pass never
# holds the writer for long; retention's batches call it again until the free list is gone.
VACUUM_PAGES = 2048


def delete_run(conn: sqlite3.Connection, run_id: str, viewer: str | None,
               actor: str) -> dict:
    """Delete the run and every run below it. ``viewer``: whose runs the caller may delete
    (None: anyone's, an admin); another's is 404 like an unknown id. 409 when one of them
    has not ended (see wfe.engine.retention.check_deletable)."""
    run = conn.execute("SELECT id, owner, status, handlers, last_seq, last_hash FROM runs"
                       " WHERE id = ?", (run_id,)).fetchone()
    if run is None or (viewer is not None and run["owner"] != viewer):
        raise NotFound(f"run {run_id} not found")
    below = descendants(conn, run_id)
    retention.check_deletable([dict(run), *below], run_id)
    for row in reversed(below):  # the deepest first
        _remove(conn, row["id"], actor)
    _remove(conn, run_id, actor)
    return {"run_id": run_id, "deleted": [run_id, *(r["id"] for r in below)],
            "events": run["last_seq"], "head": run["last_hash"]}


def descendants(conn: sqlite3.Connection, run_id: str) -> list[dict]:
    """Every run below this one, parents before their children."""
    rows = conn.execute(
        "WITH RECURSIVE d(id, lvl) AS (SELECT id, 1 FROM runs WHERE parent_run_id = ?"
        " UNION SELECT r.id, d.lvl + 1 FROM runs r JOIN d ON r.parent_run_id = d.id)"
        " SELECT r.id, r.status, r.handlers FROM d JOIN runs r ON r.id = d.id"
        " ORDER BY d.lvl", (run_id,)).fetchall()
    return [dict(r) for r in rows]


def delete_expired(conn: sqlite3.Connection, run_ids: list[str]) -> list[str]:
    """Retention: delete each run (with its children) that may still be deleted; a run
    retried or with a child still going since it was chosen is left for a later pass."""
    deleted: list[str] = []
    for run_id in run_ids:
        try:
            deleted += delete_run(conn, run_id, None, retention.RETENTION_ACTOR)["deleted"]
        except (InvalidTransition, NotFound):  # checked before anything was written
            continue
    return deleted


def vacuum(conn: sqlite3.Connection, pages: int = VACUUM_PAGES) -> int:
    """Give up to ``pages`` free pages back to the file system (auto_vacuum=INCREMENTAL);
    returns how many free pages remain."""
    (free,) = conn.execute("PRAGMA freelist_count").fetchone()
    # One page per statement: the pragma frees a page per step, and Python's sqlite3 steps
    # a statement that has no result columns only once (~10 us a page).
    for _ in range(min(int(free), pages)):
        conn.execute("PRAGMA incremental_vacuum(1)")
    return int(conn.execute("PRAGMA freelist_count").fetchone()[0])


def _remove(conn: sqlite3.Connection, run_id: str, actor: str) -> None:
    run = conn.execute(
        "SELECT r.id, r.owner, r.status, r.finished_at, r.parent_run_id, r.last_seq,"
        " r.last_hash, t.id AS t_id, t.name, t.version FROM runs r"
        " JOIN templates t ON t.id = r.template_id WHERE r.id = ?", (run_id,)).fetchone()
    data = {"run_id": run_id, "owner": run["owner"], "status": run["status"],
            "finished_at": run["finished_at"], "parent_run_id": run["parent_run_id"],
            "template": {"id": run["t_id"], "name": run["name"], "version": run["version"]},
            "events": run["last_seq"], "head": run["last_hash"]}
    conn.execute("INSERT INTO global_events (type, actor, data, created_at, run_id)"
                 " VALUES ('run.deleted', ?, ?, ?, ?)", (actor, dumps(data), now_iso(), run_id))
    conn.execute("DELETE FROM deliveries WHERE event_id IN"
                 " (SELECT id FROM events WHERE run_id = ?)", (run_id,))
    conn.execute("DELETE FROM deliveries WHERE webhook_id IN"
                 " (SELECT id FROM webhooks WHERE run_id = ?)", (run_id,))
    conn.execute("DELETE FROM webhooks WHERE run_id = ?", (run_id,))
    for table in RUN_TABLES:
        conn.execute(f"DELETE FROM {table} WHERE run_id = ?", (run_id,))
    conn.execute("DELETE FROM runs WHERE id = ?", (run_id,))
    conn.execute("DELETE FROM events WHERE run_id = ?", (run_id,))  # allowed only now


# ---- reads (retention's choice of runs, on the reader connection) ------------------------

def template_retention(conn: sqlite3.Connection) -> dict[str, float]:
    """``{template id: seconds}`` of the templates that set their own retention."""
    rows = conn.execute("SELECT id, json_extract(spec, '$.retention') FROM templates"
                        " WHERE json_extract(spec, '$.retention') IS NOT NULL").fetchall()
    out = {}
    for tid, value in rows:
        seconds = retention.retention_seconds(value)
        if seconds is not None:
            out[tid] = seconds
    return out


def expired_runs(conn: sqlite3.Connection, now: float, default: float | None,
                 limit: int, skip: Collection[str] = ()) -> list[str]:
    """Up to ``limit`` top-level runs past their retention, oldest end first, but those in
    ``skip`` (found before, not deletable yet). Runs of a template with its own retention
    are found by template; the rest by end time alone."""
    own = template_retention(conn)
    skipped = ",".join("?" * len(skip))
    found: list[str] = []
    for tid, seconds in own.items():
        if len(found) >= limit:
            break
        found += [r[0] for r in conn.execute(
            "SELECT id FROM runs INDEXED BY runs_template_finished WHERE template_id = ?"
            " AND finished_at IS NOT NULL AND parent_run_id IS NULL AND finished_at < ?"
            f" AND id NOT IN ({skipped}) ORDER BY finished_at LIMIT ?",
            (tid, retention.cutoff(now, seconds), *skip, limit - len(found)))]
    if default is not None and len(found) < limit:
        marks = ",".join("?" * len(own))
        found += [r[0] for r in conn.execute(
            "SELECT id FROM runs INDEXED BY runs_finished WHERE finished_at IS NOT NULL"
            f" AND parent_run_id IS NULL AND finished_at < ? AND template_id NOT IN ({marks})"
            f" AND id NOT IN ({skipped}) ORDER BY finished_at LIMIT ?",
            (retention.cutoff(now, default), *own, *skip, limit - len(found)))]
    return found


def deleted_runs(conn: sqlite3.Connection, run_ids: list[str]) -> list[str]:
    """Those of ``run_ids`` that were deleted (gone, with a run.deleted record)."""
    return [run_id for run_id in run_ids
            if conn.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is None
            and deleted_record(conn, run_id)]


def deleted_record(conn: sqlite3.Connection, run_id: str) -> bool:
    return conn.execute("SELECT 1 FROM global_events WHERE run_id = ? AND type = 'run.deleted'",
                        (run_id,)).fetchone() is not None
