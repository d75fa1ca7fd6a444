"""What a Runner writes for a `foreach` step's items: the list, each item's start and result.

An item's start is committed before it executes, and its result before the next thing acts
on it, exactly like a step's; items whose result was committed never run again.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from wfe.daemon.store.util import SYSTEM, add_event, dumps, loads, now_iso
from wfe.engine.states import RunStatus

ITEM_COLUMNS = "item, value, status, attempt, budget_from, output, error"


def resume_items(conn: sqlite3.Connection, run_id: str, idx: int) -> list[dict] | None:
    """The step's stored items (None before its list was stored), attempts that a dead
    daemon or Runner left running closed as interrupted: those items run again."""
    sql = f"SELECT {ITEM_COLUMNS} FROM step_items WHERE run_id = ? AND idx = ? ORDER BY item"
    rows = conn.execute(sql, (run_id, idx)).fetchall()
    if not rows and not _stored_empty(conn, run_id, idx):
        return None
    if any(r["status"] == "running" for r in rows):
        interrupt_items(conn, run_id, idx)
        rows = conn.execute(sql, (run_id, idx)).fetchall()
    return [_item(r) for r in rows]


def _stored_empty(conn: sqlite3.Connection, run_id: str, idx: int) -> bool:
    # An empty list has no rows: the event that stored it says it was evaluated.
    return conn.execute(
        "SELECT 1 FROM events WHERE run_id = ? AND type = 'step.items'"
        " AND CAST(json_extract(data, '$.index') AS INTEGER) = ?"
         " AND CAST(json_extract(data, '$.total') AS INTEGER) = 0",
        (run_id, idx)).fetchone() is not None


def _item(row: sqlite3.Row) -> dict:
    out = dict(row)
    out["value"] = loads(out["value"])
    out["output"] = loads(out["output"])
    return out


def store_items(conn: sqlite3.Connection, run_id: str, idx: int, name: str,
                values: list[Any]) -> list[dict]:
    """The list as evaluated when the step first started: the items from now on."""
    conn.executemany(
        "INSERT INTO step_items (run_id, idx, item, value) VALUES (?,?,?,?)"
        " ON CONFLICT DO NOTHING",
        [(run_id, idx, i, dumps(v)) for i, v in enumerate(values)])
    add_event(conn, run_id, "step.items", SYSTEM, {"step": name, "index": idx,
                                                   "total": len(values)})
    return resume_items(conn, run_id, idx) or []


def interrupted_item_attempts(conn: sqlite3.Connection) -> list[dict]:
    """Item attempts a dead daemon left running, with their process groups, to kill."""
    rows = conn.execute(
        "SELECT a.run_id, a.pgid, s.name FROM item_attempts a JOIN steps s ON"
        " s.run_id = a.run_id AND s.idx = a.idx WHERE a.status = 'running'").fetchall()
    return [dict(r) for r in rows]


def interrupt_items(conn: sqlite3.Connection, run_id: str | None = None,
                    idx: int | None = None) -> int:
    """Close item attempts left running (the daemon or a Runner died): the items are pending
    again. A cancel that landed meanwhile still wins."""
    where, args = "status = 'running'", list[Any]()
    if run_id is not None:
        where += " AND run_id = ?"
        args.append(run_id)
    if idx is not None:
        where += " AND idx = ?"
        args.append(idx)
    now = now_iso()
    closed = conn.execute(
        f"UPDATE item_attempts SET status = 'interrupted', finished_at = ?,"
        f" error = 'the daemon stopped while this attempt ran' WHERE {where}",
        (now, *args)).rowcount
    conn.execute(
        "UPDATE step_items SET status = CASE (SELECT status FROM runs WHERE id = run_id)"
        f" WHEN 'cancelled' THEN 'cancelled' ELSE 'pending' END WHERE {where}", args)
    return closed


def start_item(conn: sqlite3.Connection, run_id: str, idx: int, item: int,
               epoch: int) -> int | None:
    """Record an item's attempt before it executes; None when the run is not `running`."""
    status = conn.execute("SELECT status FROM runs WHERE id = ?", (run_id,)).fetchone()[0]
    if status != RunStatus.RUNNING:
        return None
    now = now_iso()
    (attempt,) = conn.execute(
        "UPDATE step_items SET status = 'running', attempt = attempt + 1, started_at = ?,"
        " finished_at = NULL, error = NULL, exit_code = NULL"
        " WHERE run_id = ? AND idx = ? AND item = ? RETURNING attempt",
        (now, run_id, idx, item)).fetchone()
    conn.execute("INSERT INTO item_attempts (run_id, idx, item, attempt, status, epoch,"
                 " started_at) VALUES (?,?,?,?,'running',?,?)",
                 (run_id, idx, item, attempt, epoch, now))
    return attempt


def set_item_pgid(conn: sqlite3.Connection, run_id: str, idx: int, item: int, attempt: int,
                  pgid: int) -> None:
    conn.execute("UPDATE item_attempts SET pgid = ? WHERE run_id = ? AND idx = ? AND item = ?"
                 " AND attempt = ?", (pgid, run_id, idx, item, attempt))


def finish_item(conn: sqlite3.Connection, run_id: str, idx: int, item: int, attempt: int,
                result: dict, again: bool) -> str:
    """Record an item attempt's outcome; ``again``: the retry policy grants another attempt
    (the item is pending meanwhile). Returns the item's status as recorded."""
    now, status = now_iso(), result["status"]
    if status == "timed_out":
        status = "failed"
    conn.execute(
        "UPDATE item_attempts SET status = ?, finished_at = ?, exit_code = ?, error = ?,"
        " log_path = ? WHERE run_id = ? AND idx = ? AND item = ? AND attempt = ?",
        (result["status"], now, result.get("exit_code"), result.get("error"),
         result.get("log_path"), run_id, idx, item, attempt))
    recorded = "pending" if again and status == "failed" else status
    output = dumps(result.get("output") or {}) if status == "succeeded" else None
    conn.execute(
        "UPDATE step_items SET status = ?, finished_at = ?, output = ?, error = ?,"
        " exit_code = ? WHERE run_id = ? AND idx = ? AND item = ?",
        (recorded, None if recorded == "pending" else now, output, result.get("error"),
         result.get("exit_code"), run_id, idx, item))
    return recorded


def cancel_items(conn: sqlite3.Connection, run_id: str, idx: int) -> None:
    """Items that will not run now (fail fast, or the run was cancelled): cancelled."""
    conn.execute("UPDATE step_items SET status = 'cancelled', finished_at = ?"
                 " WHERE run_id = ? AND idx = ? AND status = 'pending'", (now_iso(), run_id, idx))


def suspend_step(conn: sqlite3.Connection, run_id: str, idx: int, name: str,
                 attempt: int) -> None:
    """The run stopped being `running` (a pause, the daemon draining) with items still to
    run: the step waits as pending and takes them up again when the run goes on."""
    now = now_iso()
    conn.execute("UPDATE step_attempts SET status = 'interrupted', finished_at = ?, error = ?"
                 " WHERE run_id = ? AND idx = ? AND attempt = ?",
                 (now, "the run stopped with items left to run", run_id, idx, attempt))
    conn.execute(
        "UPDATE steps SET status = CASE (SELECT status FROM runs WHERE id = run_id)"
        " WHEN 'cancelled' THEN 'cancelled' ELSE 'pending' END"
        " WHERE run_id = ? AND idx = ? AND status = 'running'", (run_id, idx))
    add_event(conn, run_id, "step.suspended", SYSTEM, {"step": name, "attempt": attempt})


def reset_items(conn: sqlite3.Connection, run_id: str) -> None:
    """A retry of the run: the items that did not succeed run again, with a fresh budget."""
    conn.execute(
        "UPDATE step_items SET status = 'pending', error = NULL, budget_from = attempt"
        " WHERE run_id = ? AND status NOT IN ('succeeded')", (run_id,))
