"""What the daemon writes at start-up, before it serves anything."""

from __future__ import annotations

import sqlite3
import time

from wfe.daemon.store.ops_items import interrupt_items
from wfe.daemon.store.ops_steps import fail_run
from wfe.daemon.store.util import SYSTEM, add_event, now_iso


def next_epoch(conn: sqlite3.Connection) -> int:
    """A number per daemon start; each attempt records the epoch that began it."""
    row = conn.execute("SELECT value FROM meta WHERE key = 'epoch'").fetchone()
    epoch = int(row[0]) + 1 if row else 1
    conn.execute("INSERT INTO meta (key, value) VALUES ('epoch', ?)"
                 " ON CONFLICT (key) DO UPDATE SET value = excluded.value", (str(epoch),))
    return epoch


def interrupted_attempts(conn: sqlite3.Connection, run_id: str | None = None) -> list[dict]:
    """Attempts a dead daemon (or a crashed Runner) left running."""
    sql = ("SELECT a.run_id, a.idx, a.attempt, a.pgid, a.procs, s.name FROM step_attempts a"
           " JOIN steps s ON s.run_id = a.run_id AND s.idx = a.idx WHERE a.status = 'running'")
    rows = conn.execute(sql + (" AND a.run_id = ?" if run_id else ""),
                        (run_id,) if run_id else ()).fetchall()
    return [dict(r) for r in rows]


def close_attempt(conn: sqlite3.Connection, a: dict, why: str) -> None:
    conn.execute(
        "UPDATE step_attempts SET status = 'interrupted', finished_at = ?, error = ?"
        " WHERE run_id = ? AND idx = ? AND attempt = ?",
        (now_iso(), why, a["run_id"], a["idx"], a["attempt"]))
    # A cancel that landed while the attempt ran still wins.
    conn.execute(
        "UPDATE steps SET status = CASE (SELECT status FROM runs WHERE id = run_id)"
        " WHEN 'cancelled' THEN 'cancelled' ELSE 'pending' END"
        " WHERE run_id = ? AND idx = ? AND status = 'running'", (a["run_id"], a["idx"]))
    add_event(conn, a["run_id"], "step.interrupted", SYSTEM,
              {"step": a["name"], "attempt": a["attempt"], "error": why})


def interrupt_run(conn: sqlite3.Connection, run_id: str, retry_in: float,
                  max_recoveries: int) -> None:
    """A Runner crashed: close its attempt and let the timer try the run again."""
    for a in interrupted_attempts(conn, run_id):
        close_attempt(conn, a, "the Runner crashed while this attempt ran")
    interrupt_items(conn, run_id)
    if count_recovery(conn, run_id, max_recoveries):
        conn.execute("UPDATE runs SET wake_at = ? WHERE id = ? AND status = 'running'",
                     (time.time() + retry_in, run_id))


def count_recovery(conn: sqlite3.Connection, run_id: str, max_recoveries: int) -> bool:
    """Count one more recovery; past the cap the run fails. True when it may go on."""
    (count,) = conn.execute(
        "UPDATE runs SET recoveries = recoveries + 1 WHERE id = ? RETURNING recoveries",
        (run_id,)).fetchone()
    if count > max_recoveries:
        fail_run(conn, run_id, "recovery_limit", {
            "message": f"interrupted {count} times (daemon or Runner crashes); giving up"})
        return False
    add_event(conn, run_id, "run.recovered", SYSTEM, {"recoveries": count})
    return True


def recover(conn: sqlite3.Connection, max_recoveries: int) -> list[str]:
    """Close interrupted attempts and return the runs they belonged to.

    An interrupted attempt does not use up the step's retry budget (the daemon died, not
    the step); a run that keeps dying is failed after ``max_recoveries``.
    """
    attempts = interrupted_attempts(conn)
    for a in attempts:
        close_attempt(conn, a, "the daemon stopped while this attempt ran")
    interrupt_items(conn)
    revived = []
    for run_id in dict.fromkeys(a["run_id"] for a in attempts):
        status = conn.execute("SELECT status FROM runs WHERE id = ?", (run_id,)).fetchone()[0]
        if status in ("completed", "failed", "cancelled"):
            continue
        if count_recovery(conn, run_id, max_recoveries):
            revived.append(run_id)
    # Runs whose timer passed while the daemon was down are picked up by the timer loop;
    # running ones without a timer are woken now.
    conn.execute("UPDATE runs SET wake_at = ? WHERE status IN ('running', 'pending')"
                 " AND wake_at IS NULL", (time.time(),))
    return revived
