"""Rollback: return a run to a snapshot and let it continue from the step after it."""

from __future__ import annotations

import sqlite3
import time

from wfe.daemon.store.ops_runs import deadline_from, load_run
from wfe.daemon.store.util import add_event, dumps, loads, now_iso
from wfe.engine.states import Action, transition
from wfe.errors import NotFound, ValidationFailed


def find_snapshot(conn: sqlite3.Connection, run_id: str, snapshot_id: str | None,
                  step: str | None) -> sqlite3.Row:
    if (snapshot_id is None) == (step is None):
        raise ValidationFailed("invalid request", [
            {"path": "snapshot_id", "message": "give exactly one of snapshot_id and step"}])
    if snapshot_id is not None:
        row = conn.execute("SELECT * FROM snapshots WHERE id = ? AND run_id = ?",
                           (snapshot_id, run_id)).fetchone()
    else:  # the latest snapshot taken after that step
        row = conn.execute("SELECT * FROM snapshots WHERE run_id = ? AND step = ?"
                           " ORDER BY created_at DESC, rowid DESC LIMIT 1",
                           (run_id, step)).fetchone()
    if row is None:
        raise NotFound(f"no snapshot {snapshot_id or 'after step ' + str(step)} in this run")
    return row


def _done_at(conn: sqlite3.Connection, run_id: str, snap: sqlite3.Row,
             state: dict) -> dict[str, str]:
    """The steps that were done when the snapshot was taken, each succeeded or skipped.
    A snapshot written before graphs has no ``skipped`` list: in a chain, everything up to
    its step was done, and a done step without an output was skipped."""
    outputs = state.get("outputs") or {}
    if "skipped" in state:
        done = {name: "succeeded" for name in outputs}
        return done | {name: "skipped" for name in state["skipped"]}
    rows = conn.execute("SELECT name FROM steps WHERE run_id = ? AND idx <= ?",
                        (run_id, snap["after_idx"])).fetchall()
    return {r[0]: "succeeded" if r[0] in outputs else "skipped" for r in rows}


def rollback(conn: sqlite3.Connection, run_id: str, owner: str, actor: str,
             snapshot_id: str | None, step: str | None, dry_run: bool) -> list[str]:
    """The steps that run again; nothing changes on a dry run."""
    run = load_run(conn, run_id, owner)
    target = transition(run["status"], Action.ROLLBACK)
    from wfe.daemon.store.ops_handlers import refuse_while_handling

    refuse_while_handling(run, "roll back")
    if not dry_run:
        from wfe.daemon.store.ops_concurrency import retake

        retake(conn, run, "roll back")
    snap = find_snapshot(conn, run_id, snapshot_id, step)
    state = loads(snap["state"])
    done = _done_at(conn, run_id, snap, state)
    steps = conn.execute("SELECT idx, name FROM steps WHERE run_id = ? ORDER BY idx",
                         (run_id,)).fetchall()
    rerun = [name for _, name in steps if name not in done]
    if dry_run:
        return rerun
    outputs = state.get("outputs") or {}
    now = now_iso()
    for idx, name in steps:
        if name in done:
            conn.execute("UPDATE steps SET status = ?, output = ?, error = NULL, wake_at = NULL"
                         " WHERE run_id = ? AND idx = ?",
                         (done[name], dumps(outputs.get(name) or {}), run_id, idx))
    # The rest run again; their attempts stay in step_attempts as history.
    conn.execute("UPDATE steps SET status = 'pending', output = NULL, error = NULL,"
                 " exit_code = NULL, log_tail = NULL, wake_at = NULL, finished_at = NULL"
                 " WHERE run_id = ? AND name IN (SELECT value FROM json_each(?))",
                 (run_id, dumps(rerun)))
    conn.execute("UPDATE approvals SET status = 'cancelled', decided_by = ?, decided_at = ?,"
                 " applied = 1 WHERE run_id = ? AND status = 'pending'", (actor, now, run_id))
    spec = conn.execute("SELECT spec FROM templates WHERE id = ?", (run["template_id"],)).fetchone()
    conn.execute(
        "UPDATE runs SET status = ?, paused_from = NULL, reason = NULL, finished_at = NULL,"
        " current_step = ?, recoveries = 0, wake_at = ?, deadline = ?, updated_at = ?"
        " WHERE id = ?", (target.value, min(i for i, n in steps if n in rerun) if rerun
                          else len(steps), time.time(), deadline_from(spec[0]), now, run_id))
    add_event(conn, run_id, "run.rolled_back", actor, {
        "snapshot_id": snap["id"], "step": snap["step"], "from": run["status"], "rerun": rerun})
    return rerun
