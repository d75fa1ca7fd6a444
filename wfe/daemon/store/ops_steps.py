"""What Runners write: claiming a run, a step's start and its result, the run's end.

Each function runs in the single writer, so it sees the run's current status (a pause or a
cancel may have landed while a step ran) and decides in the same transaction that records.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from wfe.daemon.faults import fault
from wfe.daemon.store import ops_children
from wfe.daemon.store.ops_concurrency import try_admit
from wfe.daemon.store.ops_runs import deadline_from, insert_snapshot
from wfe.daemon.store.util import SYSTEM, add_event, append_events, dumps, now_iso
from wfe.engine.states import Action, RunStatus, transition

# What a Runner does after an op: go on to the next step, or exit (hibernate or end).
CONTINUE, STOP = "continue", "stop"


def claim_run(conn: sqlite3.Connection, run_id: str) -> dict | None:
    """Load a woken run for its Runner; None when it has nothing to execute."""
    run = conn.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
    if run is not None and run["status"] == RunStatus.WAITING_APPROVAL and _timer_due(conn, run_id):
        # A sleep, a callback's deadline or a backoff beside the open gates came due.
        transition(run["status"], Action.START)
        conn.execute("UPDATE runs SET status = 'running', updated_at = ? WHERE id = ?",
                     (now_iso(), run_id))
        add_event(conn, run_id, "run.running", SYSTEM, {"why": "a timer beside a gate came due"})
        run = conn.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
    if run is None or run["status"] not in (RunStatus.PENDING, RunStatus.RUNNING):
        if run is not None and run["wake_at"] is not None:
            # Woken early (another node's wake, say): a gate's deadline or a timer beside
            # it still stands, so the run keeps its next wake-up rather than losing it.
            nxt = _next_timer(conn, run_id) if run["status"] == RunStatus.WAITING_APPROVAL \
                else None
            conn.execute("UPDATE runs SET wake_at = ? WHERE id = ?", (nxt, run_id))
        return None
    now = now_iso()
    spec = conn.execute("SELECT spec, name, version FROM templates WHERE id = ?",
                        (run["template_id"],)).fetchone()
    if run["status"] == RunStatus.PENDING:
        if run["concurrency_queued"] and not try_admit(conn, run):
            return None  # it waits for a slot of its concurrency group
        transition(run["status"], Action.START)
        deadline = deadline_from(spec["spec"]) if run["started_at"] is None else run["deadline"]
        conn.execute(
            "UPDATE runs SET status = 'running', started_at = COALESCE(started_at, ?),"
            " deadline = ?, updated_at = ? WHERE id = ?", (now, deadline, now, run_id))
        freed_by = run["concurrency_freed_by"]  # it waited until that run ended
        add_event(conn, run_id, "run.started", SYSTEM,
                  {"slot_freed_by": freed_by} if freed_by else None)
    conn.execute("UPDATE runs SET wake_at = NULL, heartbeat_at = ? WHERE id = ?", (now, run_id))
    steps = conn.execute("SELECT * FROM steps WHERE run_id = ? ORDER BY idx", (run_id,)).fetchall()
    return {"run": dict(run), "steps": [dict(s) for s in steps], "template": dict(spec)}


def _next_timer(conn: sqlite3.Connection, run_id: str) -> float | None:
    return conn.execute(
        "SELECT MIN(wake_at) FROM steps WHERE run_id = ? AND status IN ('waiting', 'pending')"
        " AND wake_at > ?", (run_id, time.time())).fetchone()[0]


def _timer_due(conn: sqlite3.Connection, run_id: str) -> bool:
    return conn.execute(
        "SELECT 1 FROM steps WHERE run_id = ? AND status IN ('waiting', 'pending')"
        " AND kind != 'approval' AND wake_at <= ?", (run_id, time.time())).fetchone() is not None


def expire_run(conn: sqlite3.Connection, run_id: str) -> bool:
    """Fail a run whose template timeout has passed; True when it was failed now."""
    row = conn.execute("SELECT status, deadline FROM runs WHERE id = ?", (run_id,)).fetchone()
    if row is None or row["deadline"] is None or row["deadline"] > time.time():
        return False
    conn.execute("UPDATE steps SET status = 'failed', error = 'run timed out', finished_at = ?"
                 " WHERE run_id = ? AND status = 'waiting'", (now_iso(), run_id))
    conn.execute("UPDATE approvals SET status = 'cancelled', decided_by = 'system',"
                 " decided_at = ?, applied = 1 WHERE run_id = ? AND status = 'pending'",
                 (now_iso(), run_id))
    return fail_run(conn, run_id, "run_timeout", {"message": "the run's timeout passed"})


def start_step(conn: sqlite3.Connection, run_id: str, idx: int, name: str, epoch: int,
               wake_at: float | None = None, reads: dict | None = None,
               started: float | None = None) -> int | None:
    """Record a step's start (its attempt number) before anything executes it. ``reads``:
    the names of the stored secrets and variables it read, for its event. ``started``: the
    time a timer's ``wake_at`` was counted from, recorded as the start so that a sleep never
    looks shorter than it was."""
    status = conn.execute("SELECT status FROM runs WHERE id = ?", (run_id,)).fetchone()[0]
    if status != RunStatus.RUNNING:
        return None
    now = now_iso(started)
    step_status = "waiting" if wake_at is not None else "running"
    (attempt,) = conn.execute(
        "UPDATE steps SET status = ?, attempt = attempt + 1, started_at = ?, finished_at = NULL,"
        " error = NULL, exit_code = NULL, wake_at = ? WHERE run_id = ? AND idx = ?"
        " RETURNING attempt", (step_status, now, wake_at, run_id, idx),
    ).fetchone()
    conn.execute(
        "INSERT INTO step_attempts (run_id, idx, attempt, status, epoch, started_at)"
        " VALUES (?,?,?,?,?,?)", (run_id, idx, attempt, step_status, epoch, now),
    )
    conn.execute("UPDATE runs SET updated_at = ? WHERE id = ?", (now, run_id))
    data: dict[str, Any] = {"step": name, "attempt": attempt}
    if wake_at is not None:
        data["until"] = now_iso(wake_at)
    data.update(reads or {})  # the names of the stored secrets and variables it read
    add_event(conn, run_id, "step.started", SYSTEM, data)
    return attempt


def set_pgid(conn: sqlite3.Connection, run_id: str, idx: int, attempt: int, pgid: int) -> None:
    conn.execute("UPDATE step_attempts SET pgid = ? WHERE run_id = ? AND idx = ? AND attempt = ?",
                 (pgid, run_id, idx, attempt))


def set_procs(conn: sqlite3.Connection, run_id: str, step: str, attempt: str,
              procs: list[tuple[int, int]]) -> None:
    """The processes a running attempt started, as (pid, start time) pairs, for recovery."""
    conn.execute(
        "UPDATE step_attempts SET procs = ? WHERE run_id = ? AND attempt = ? AND idx ="
        " (SELECT idx FROM steps WHERE run_id = ? AND name = ?)",
        (dumps(procs), run_id, int(attempt), run_id, step))


def finish_step(conn: sqlite3.Connection, run_id: str, idx: int, name: str, attempt: int,
                result: dict, state: dict, retry_at: float | None = None) -> tuple[str, str]:
    """Record a step's outcome and decide, with the run's current status, what comes next:
    ``(CONTINUE or STOP, the step's status as recorded)``.

    ``result``: status (succeeded|failed|timed_out|cancelled), output, error, exit_code,
    log_path, log_tail. ``retry_at``: when the engine's retry policy grants another attempt.
    """
    run_status = conn.execute("SELECT status FROM runs WHERE id = ?", (run_id,)).fetchone()[0]
    now, status = now_iso(), result["status"]
    if run_status == RunStatus.CANCELLED and status != "succeeded":
        status = "cancelled"
    conn.execute(
        "UPDATE step_attempts SET status = ?, finished_at = ?, exit_code = ?, error = ?,"
        " log_path = ?, log_tail = ? WHERE run_id = ? AND idx = ? AND attempt = ?",
        (status, now, result.get("exit_code"), result.get("error"), result.get("log_path"),
         result.get("log_tail"), run_id, idx, attempt),
    )
    common = (result.get("exit_code"), result.get("log_tail"), run_id, idx)
    data = {"step": name, "attempt": attempt}
    if status == "succeeded":
        conn.execute(
            "UPDATE steps SET status = 'succeeded', finished_at = ?, output = ?, error = NULL,"
            " wake_at = NULL, exit_code = ?, log_tail = ? WHERE run_id = ? AND idx = ?",
            (now, dumps(result.get("output") or {}), *common))
        add_event(conn, run_id, "step.succeeded", SYSTEM, data)
        insert_snapshot(conn, run_id, idx, name, state)
        # Recoveries count crashes in a row: a step that gets done ends the streak.
        conn.execute("UPDATE runs SET current_step = ?, updated_at = ?, recoveries = 0"
                     " WHERE id = ?", (state["position"], now, run_id))
        fault("step_commit")
        return (CONTINUE if run_status == RunStatus.RUNNING else STOP), "succeeded"
    data |= {"error": result.get("error"), "exit_code": result.get("exit_code"), "status": status}
    if status == "cancelled":
        conn.execute(
            "UPDATE steps SET status = 'cancelled', finished_at = ?, error = ?, wake_at = NULL,"
            " exit_code = ?, log_tail = ? WHERE run_id = ? AND idx = ?",
            (now, result.get("error"), *common))
        add_event(conn, run_id, "step.cancelled", SYSTEM, data)
        return STOP, "cancelled"
    if retry_at is not None and run_status in (RunStatus.RUNNING, RunStatus.PAUSED):
        _schedule_retry(conn, run_id, idx, retry_at, data, result, common)
        return (CONTINUE if run_status == RunStatus.RUNNING else STOP), "pending"
    conn.execute(
        "UPDATE steps SET status = 'failed', finished_at = ?, error = ?, wake_at = NULL,"
        " exit_code = ?, log_tail = ? WHERE run_id = ? AND idx = ?",
        (now, result.get("error"), *common))
    add_event(conn, run_id, "step.failed", SYSTEM, data)
    if run_status in (RunStatus.RUNNING, RunStatus.PAUSED):
        fail_run(conn, run_id, "step_failed", {"step": name, "error": result.get("error")})
    return STOP, "failed"


def _schedule_retry(conn, run_id, idx, retry_at, data, result, common) -> None:
    conn.execute(
        "UPDATE steps SET status = 'pending', error = ?, wake_at = ?, exit_code = ?, log_tail = ?"
        " WHERE run_id = ? AND idx = ?", (result.get("error"), retry_at, *common))
    add_event(conn, run_id, "step.attempt_failed", SYSTEM, data)
    add_event(conn, run_id, "step.retry_scheduled", SYSTEM, {
        "step": data["step"], "next_attempt": data["attempt"] + 1,
        "delay": round(retry_at - time.time(), 3), "at": now_iso(retry_at)})


def pure_step(conn: sqlite3.Connection, run_id: str, idx: int, name: str, epoch: int,
              result: dict, state: dict, reads: dict | None = None) -> str:
    """A step with no side effect (``set``): its start and its outcome in one go.

    The succeeded case writes the same rows as start_step + finish_step in 7 statements
    instead of 17: the run row is read once and written once (position, event chain head),
    and both events go in one executemany.
    """
    if result["status"] != "succeeded":
        attempt = start_step(conn, run_id, idx, name, epoch)
        if attempt is None:
            return STOP
        return finish_step(conn, run_id, idx, name, attempt, result, state)[0]
    run = conn.execute("SELECT status, last_seq, last_hash, owner FROM runs WHERE id = ?",
                       (run_id,)).fetchone()
    if run[0] != RunStatus.RUNNING:
        return STOP
    now = now_iso()
    (attempt,) = conn.execute(
        "UPDATE steps SET status = 'succeeded', attempt = attempt + 1, started_at = ?,"
        " finished_at = ?, output = ?, error = NULL, exit_code = NULL, log_tail = NULL,"
        " wake_at = NULL WHERE run_id = ? AND idx = ? RETURNING attempt",
        (now, now, dumps(result.get("output") or {}), run_id, idx)).fetchone()
    conn.execute(
        "INSERT INTO step_attempts (run_id, idx, attempt, status, epoch, started_at, finished_at)"
        " VALUES (?,?,?,'succeeded',?,?,?)", (run_id, idx, attempt, epoch, now, now))
    data = {"step": name, "attempt": attempt}
    seq, head = append_events(conn, run_id, run[1], run[2], run[3],
                              [("step.started", SYSTEM, {**data, **(reads or {})}),
                               ("step.succeeded", SYSTEM, data)])
    insert_snapshot(conn, run_id, idx, name, state)
    conn.execute("UPDATE runs SET current_step = ?, updated_at = ?, recoveries = 0,"
                 " last_seq = ?, last_hash = ? WHERE id = ?",
                 (state["position"], now, seq, head, run_id))
    return CONTINUE


def skip_step(conn: sqlite3.Connection, run_id: str, idx: int, name: str, state: dict,
              why: str) -> str:
    run_status = conn.execute("SELECT status FROM runs WHERE id = ?", (run_id,)).fetchone()[0]
    if run_status != RunStatus.RUNNING:
        return STOP
    now = now_iso()
    conn.execute("UPDATE steps SET status = 'skipped', finished_at = ? WHERE run_id = ?"
                 " AND idx = ?", (now, run_id, idx))
    add_event(conn, run_id, "step.skipped", SYSTEM, {"step": name, "reason": why})
    insert_snapshot(conn, run_id, idx, name, state)
    conn.execute("UPDATE runs SET current_step = ?, updated_at = ? WHERE id = ?",
                 (state["position"], now, run_id))
    return CONTINUE


def complete_run(conn: sqlite3.Connection, run_id: str) -> bool:
    status = conn.execute("SELECT status FROM runs WHERE id = ?", (run_id,)).fetchone()[0]
    if status != RunStatus.RUNNING:
        return False
    transition(status, Action.COMPLETE)
    now = now_iso()
    conn.execute("UPDATE runs SET status = 'completed', finished_at = ?, updated_at = ?,"
                 " wake_at = NULL WHERE id = ?", (now, now, run_id))
    add_event(conn, run_id, "run.completed", SYSTEM)
    ops_children.child_ended(conn, run_id, RunStatus.COMPLETED)
    return True


def fail_run(conn: sqlite3.Connection, run_id: str, reason: str, data: dict | None = None,
             actor: str = SYSTEM) -> bool:
    status = conn.execute("SELECT status FROM runs WHERE id = ?", (run_id,)).fetchone()[0]
    if RunStatus(status).terminal:
        return False
    transition(status, Action.FAIL)
    now = now_iso()
    conn.execute("UPDATE runs SET status = 'failed', reason = ?, finished_at = ?, updated_at = ?,"
                 " wake_at = NULL, paused_from = NULL WHERE id = ?", (reason, now, now, run_id))
    # Other branches' gates and timers end with the run: nobody may decide a failed run.
    conn.execute("UPDATE steps SET status = 'cancelled', finished_at = ?, wake_at = NULL"
                 " WHERE run_id = ? AND status = 'waiting'", (now, run_id))
    from wfe.daemon.store.ops_approvals import cancel_open

    cancel_open(conn, run_id, SYSTEM)
    add_event(conn, run_id, "run.failed", actor, {"reason": reason, **(data or {})})
    ops_children.cancel_children(conn, run_id, SYSTEM, "the parent run failed")
    ops_children.child_ended(conn, run_id, RunStatus.FAILED, reason, data)
    return True


def step_states(conn: sqlite3.Connection, run_id: str) -> tuple[str, list[dict]]:
    """The run's status and its steps' rows, as a Runner re-reads them when poked."""
    status = conn.execute("SELECT status FROM runs WHERE id = ?", (run_id,)).fetchone()[0]
    rows = conn.execute("SELECT idx, status, wake_at, output, attempt FROM steps"
                        " WHERE run_id = ?", (run_id,)).fetchall()
    return status, [dict(r) for r in rows]


def rest_run(conn: sqlite3.Connection, run_id: str, announce: bool = True) -> None:
    """Nothing of the run executes: it waits at its open gates (``waiting_approval``), or
    for its next timer (a sleep, a callback's deadline, a retry's backoff), with no Runner.
    ``announce``: an event marks the turn to ``waiting_approval`` (followers re-read the run
    on events); a gate that parks the run as it opens has its own event already."""
    status = conn.execute("SELECT status FROM runs WHERE id = ?", (run_id,)).fetchone()[0]
    if status != RunStatus.RUNNING:
        return
    (wake,) = conn.execute(
        "SELECT MIN(wake_at) FROM steps WHERE run_id = ? AND status IN ('waiting', 'pending')",
        (run_id,)).fetchone()
    (gates,) = conn.execute("SELECT COUNT(*) FROM approvals WHERE run_id = ? AND"
                            " status = 'pending'", (run_id,)).fetchone()
    target = transition(status, Action.AWAIT_APPROVAL) if gates else RunStatus(status)
    conn.execute("UPDATE runs SET status = ?, wake_at = ?, updated_at = ? WHERE id = ?",
                 (target.value, wake, now_iso(), run_id))
    if gates and announce:
        add_event(conn, run_id, "run.waiting_approval", SYSTEM, {"open_gates": gates})


def heartbeat(conn: sqlite3.Connection, run_ids: list[str]) -> None:
    """One statement for every live Runner."""
    conn.execute("UPDATE runs SET heartbeat_at = ? WHERE id IN (SELECT value FROM json_each(?))",
                 (now_iso(), dumps(run_ids)))
