"""What failure handlers (undo, on_failure, finally) write: their rows, each start and result.

A run with handlers carries ``runs.handlers``: 'waiting' until the run ends; the trigger of
migration "failure handlers" turns it 'pending' (and wakes the run) in the transaction that
ends the run, whichever path ends it; the first claim records the engine's order and turns
it 'running'; the last handler's result turns it 'done'. Each handler's start is committed
before it executes, so after a crash a handler found 'running' runs again (at least once,
like a step) and one recorded finished never runs again.
"""

from __future__ import annotations

import sqlite3
import time

from wfe.daemon.store.util import SYSTEM, add_event, dumps, loads, now_iso
from wfe.engine import handlers as engine
from wfe.engine.states import Action, RunStatus, transition
from wfe.errors import InvalidTransition

ACTIVE = ("pending", "running")


def insert_handlers(conn: sqlite3.Connection, run_id: str,
                    rows: list[tuple[str, str, str | None, str]]) -> None:
    """A new run's handlers as ``(name, role, target, kind)`` in template order
    (TemplateSpec.handler_steps), written with the run."""
    conn.executemany(
        "INSERT INTO handler_steps (run_id, name, role, target, kind, pos) VALUES (?,?,?,?,?,?)",
        [(run_id, *row, i) for i, row in enumerate(rows)])
    conn.execute("UPDATE runs SET handlers = 'waiting' WHERE id = ?", (run_id,))


def claim(conn: sqlite3.Connection, run_id: str) -> dict | None:
    """An ended run whose handlers are due: what its Runner needs to run them, or None."""
    run = conn.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
    if run is None or run["handlers"] not in ACTIVE or not RunStatus(run["status"]).terminal:
        return None
    if run["handlers"] == "pending":
        _select(conn, run)
    conn.execute("UPDATE runs SET wake_at = NULL, heartbeat_at = ? WHERE id = ?",
                 (now_iso(), run_id))
    spec = conn.execute("SELECT spec, name, version FROM templates WHERE id = ?",
                        (run["template_id"],)).fetchone()
    steps = conn.execute("SELECT * FROM steps WHERE run_id = ? ORDER BY idx", (run_id,)).fetchall()
    rows = conn.execute("SELECT name, role, status, pos FROM handler_steps WHERE run_id = ?"
                        " AND status != 'skipped' ORDER BY pos", (run_id,)).fetchall()
    failed = conn.execute(
        "SELECT name, error FROM steps WHERE run_id = ? AND status = 'failed'"
        " ORDER BY finished_at, idx LIMIT 1", (run_id,)).fetchone()
    ending = {"status": run["status"], "reason": run["reason"],
              "failed_step": failed["name"] if failed else None,
              "error": failed["error"] if failed else None}
    return {"run": dict(run), "template": dict(spec), "steps": [dict(s) for s in steps],
            "handlers": [dict(r) for r in rows], "ending": ending}


def _select(conn: sqlite3.Connection, run: sqlite3.Row) -> None:
    """Record, once, which handlers run and in what order (the engine decides)."""
    run_id = run["id"]
    rows = conn.execute("SELECT name, role, target FROM handler_steps WHERE run_id = ?"
                        " ORDER BY pos", (run_id,)).fetchall()
    done = {r["name"] for r in conn.execute(
        "SELECT name FROM steps WHERE run_id = ? AND status = 'succeeded'", (run_id,))}
    # Completion order: the step.succeeded events, in sequence.
    completed = [r[0] for r in conn.execute(
        "SELECT json_extract(data, '$.step') FROM events WHERE run_id = ?"
        " AND type = 'step.succeeded' ORDER BY seq", (run_id,)) if r[0] in done]
    chosen = engine.order(
        run["status"], completed, {r["target"]: r["name"] for r in rows if r["role"] == "undo"},
        [r["name"] for r in rows if r["role"] == engine.ON_FAILURE],
        [r["name"] for r in rows if r["role"] == engine.FINALLY])
    conn.execute("UPDATE handler_steps SET status = 'skipped', pos = NULL WHERE run_id = ?",
                 (run_id,))
    conn.executemany("UPDATE handler_steps SET status = 'pending', pos = ? WHERE run_id = ?"
                     " AND name = ?", [(i, run_id, h.name) for i, h in enumerate(chosen)])
    conn.execute("UPDATE runs SET handlers = 'running' WHERE id = ?", (run_id,))
    add_event(conn, run_id, "run.handlers_started", SYSTEM, {
        "status": run["status"], "order": [h.name for h in chosen]})


def _live(conn: sqlite3.Connection, run_id: str) -> bool:
    row = conn.execute("SELECT handlers FROM runs WHERE id = ?", (run_id,)).fetchone()
    return row is not None and row[0] == "running"


def start_handler(conn: sqlite3.Connection, run_id: str, name: str, role: str,
                  epoch: int) -> int | None:
    """Record a handler's start before it executes; None when its handlers were cancelled."""
    if not _live(conn, run_id):
        return None
    (attempt,) = conn.execute(
        "UPDATE handler_steps SET status = 'running', attempt = attempt + 1, started_at = ?,"
        " finished_at = NULL, error = NULL, pgid = NULL WHERE run_id = ? AND name = ?"
        " RETURNING attempt", (now_iso(), run_id, name)).fetchone()
    add_event(conn, run_id, "handler.started", SYSTEM,
              {"step": name, "role": role, "attempt": attempt, "epoch": epoch})
    return attempt


def set_pgid(conn: sqlite3.Connection, run_id: str, name: str, pgid: int) -> None:
    conn.execute("UPDATE handler_steps SET pgid = ? WHERE run_id = ? AND name = ?",
                 (pgid, run_id, name))


def finish_handler(conn: sqlite3.Connection, run_id: str, name: str, role: str,
                   attempt: int, result: dict) -> str:
    """Record a handler's outcome: succeeded, failed (a timeout too), skipped or cancelled."""
    status = {"timed_out": "failed"}.get(result["status"], result["status"])
    conn.execute(
        "UPDATE handler_steps SET status = ?, finished_at = ?, output = ?, error = ?,"
        " exit_code = ?, log_tail = ? WHERE run_id = ? AND name = ?",
        (status, now_iso(), dumps(result.get("output") or {}), result.get("error"),
         result.get("exit_code"), result.get("log_tail"), run_id, name))
    data = {"step": name, "role": role, "attempt": attempt}
    if status != "succeeded":
        data |= {"error": result.get("error"), "exit_code": result.get("exit_code")}
    add_event(conn, run_id, f"handler.{status}", SYSTEM, data)
    return status


def finish_all(conn: sqlite3.Connection, run_id: str) -> None:
    """Every handler had its turn: report the ones that failed (the run's status stays)."""
    if not _live(conn, run_id):
        return
    rows = conn.execute("SELECT name, status FROM handler_steps WHERE run_id = ?",
                        (run_id,)).fetchall()
    conn.execute("UPDATE runs SET handlers = 'done', updated_at = ? WHERE id = ?",
                 (now_iso(), run_id))
    add_event(conn, run_id, "run.handlers_done", SYSTEM,
              engine.summary({r["name"]: r["status"] for r in rows}))


def cancel_handlers(conn: sqlite3.Connection, run_id: str, owner: str, actor: str) -> None:
    """A cancel of an ended run whose handlers still run: the ones not started never will;
    the Runner stops the one executing (recorded `cancelled`)."""
    from wfe.daemon.store.ops_runs import load_run

    run = load_run(conn, run_id, owner)
    if run["handlers"] not in ACTIVE:
        transition(run["status"], Action.CANCEL)  # refused as it always was
    now = now_iso()
    conn.execute("UPDATE handler_steps SET status = 'cancelled', finished_at = ?"
                 " WHERE run_id = ? AND status = 'pending'", (now, run_id))
    conn.execute("UPDATE runs SET handlers = 'done', wake_at = NULL, updated_at = ?"
                 " WHERE id = ?", (now, run_id))
    add_event(conn, run_id, "run.handlers_cancelled", actor, {})


def refuse_while_handling(run: sqlite3.Row, action: str) -> None:
    """A run starts again (retry, rollback) only once its handlers are done: they read the
    run as it ended, and one Runner at a time drives a run."""
    if run["handlers"] in ACTIVE:
        raise InvalidTransition(f"run {run['id']} is still running its failure handlers;"
                                f" {action} it once they are done",
                                {"status": run["status"], "handlers": run["handlers"]})


def interrupted(conn: sqlite3.Connection) -> list[dict]:
    """Handler attempts a dead daemon left running, shaped as procs.kill_leftovers reads."""
    return [dict(r) for r in conn.execute(
        "SELECT run_id, name, pgid, NULL AS procs FROM handler_steps WHERE status = 'running'")]


def interrupt_run_handlers(conn: sqlite3.Connection, run_id: str, why: str) -> int:
    """A run's handlers left running by a node that lost its lease run again."""
    names = [r[0] for r in conn.execute(
        "SELECT name FROM handler_steps WHERE run_id = ? AND status = 'running'", (run_id,))]
    for name in names:
        conn.execute("UPDATE handler_steps SET status = 'pending' WHERE run_id = ? AND name = ?",
                     (run_id, name))
        add_event(conn, run_id, "handler.interrupted", SYSTEM, {"step": name, "error": why})
    return len(names)


def recover(conn: sqlite3.Connection) -> None:
    """At start-up: an interrupted handler runs again; runs with handlers due are woken."""
    for r in interrupted(conn):
        conn.execute("UPDATE handler_steps SET status = 'pending' WHERE run_id = ? AND name = ?",
                     (r["run_id"], r["name"]))
        add_event(conn, r["run_id"], "handler.interrupted", SYSTEM, {
            "step": r["name"], "error": "the daemon stopped while this handler ran"})
    conn.execute("UPDATE runs SET wake_at = ?"
                 " WHERE handlers IN ('pending', 'running') AND wake_at IS NULL", (time.time(),))


def handlers_view(conn: sqlite3.Connection, run_id: str) -> dict | None:
    """The run answer's ``handlers``: their state, the failed ones, each handler's row."""
    (state,) = conn.execute("SELECT handlers FROM runs WHERE id = ?", (run_id,)).fetchone()
    if state is None:
        return None
    rows = [dict(r) for r in conn.execute(
        "SELECT name, role, target, kind, status, attempt, started_at, finished_at, output,"
        " error, exit_code, log_tail FROM handler_steps WHERE run_id = ?"
        " ORDER BY pos IS NULL, pos, name", (run_id,))]
    for r in rows:
        r["output"] = loads(r["output"])
    return {"status": state, "failed": [r["name"] for r in rows if r["status"] == "failed"],
            "steps": rows}
