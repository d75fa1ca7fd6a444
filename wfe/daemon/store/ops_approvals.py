"""Approval gates: a run stops at a step until a person (or its timeout) decides.

A decision is recorded and applied to the run in one transaction; the caller wakes the
run only afterwards, so a crash in between still finds the run due at the next start.
While the run is paused, a decision is recorded but applied only on resume.
"""

from __future__ import annotations

import json
import sqlite3
import time

from wfe.daemon.store.ops_runs import insert_snapshot, load_run
from wfe.daemon.store.ops_steps import fail_run
from wfe.daemon.store.util import SYSTEM, add_event, dumps, loads, new_id, now_iso
from wfe.engine.states import Action, RunStatus, transition
from wfe.errors import Conflict, NotFound


def request_approval(conn: sqlite3.Connection, run_id: str, idx: int, name: str, epoch: int,
                     gate: dict, park: bool = False) -> dict | None:
    """A step reaches its gate: step waiting, approval pending. The run turns
    ``waiting_approval`` once nothing else of it executes (ops_steps.rest_run): at once
    when ``park`` says nothing else does.
    ``{"id", "attempt", "expires_at"}``, or None when the run is not running."""
    run = conn.execute("SELECT status FROM runs WHERE id = ?", (run_id,)).fetchone()
    if run["status"] != RunStatus.RUNNING:
        return None
    now, approval_id = now_iso(), new_id()
    expires = time.time() + gate["timeout"] if gate.get("timeout") else None
    (attempt,) = conn.execute(
        "UPDATE steps SET status = 'waiting', attempt = attempt + 1, started_at = ?,"
        " finished_at = NULL, error = NULL, wake_at = ? WHERE run_id = ? AND idx = ?"
        " RETURNING attempt", (now, expires, run_id, idx)).fetchone()
    conn.execute("INSERT INTO step_attempts (run_id, idx, attempt, status, epoch, started_at)"
                 " VALUES (?,?,?,'waiting',?,?)", (run_id, idx, attempt, epoch, now))
    conn.execute(
        "INSERT INTO approvals (id, run_id, idx, step, status, message, approvers, on_timeout,"
        " requested_at, expires_at) VALUES (?,?,?,?,'pending',?,?,?,?,?)",
        (approval_id, run_id, idx, name, gate.get("message") or "", dumps(gate["approvers"]),
         gate.get("on_timeout") or "reject", now, expires))
    conn.execute("UPDATE runs SET updated_at = ? WHERE id = ?", (now, run_id))
    add_event(conn, run_id, "step.started", SYSTEM, {"step": name, "attempt": attempt})
    add_event(conn, run_id, "approval.requested", SYSTEM, {
        "approval_id": approval_id, "step": name, "message": gate.get("message") or "",
        "approvers": gate["approvers"], "expires_at": now_iso(expires) if expires else None})
    if park:
        from wfe.daemon.store.ops_steps import rest_run

        rest_run(conn, run_id, announce=False)
    return {"id": approval_id, "attempt": attempt, "expires_at": expires}


def may_decide(approval: sqlite3.Row | dict, run_owner: str, user: str) -> bool:
    return user == run_owner or user in loads(approval["approvers"])


def decide(conn: sqlite3.Connection, run_id: str, approval_id: str, user: str, approve: bool,
           comment: str | None) -> bool:
    """Record a person's decision; True when the run should be woken now."""
    run = load_run(conn, run_id)
    approval = conn.execute("SELECT * FROM approvals WHERE id = ? AND run_id = ?",
                            (approval_id, run_id)).fetchone()
    # Someone who may not read the run learns nothing about it, not even that it exists.
    if not reads(conn, run, user):
        raise NotFound(f"run {run_id} not found")
    if approval is None or not may_decide(approval, run["owner"], user):
        raise NotFound(f"approval {approval_id} not found")
    if approval["status"] != "pending":
        raise Conflict(
            f"this approval was already {approval['status']}"
            + (f" by {approval['decided_by']} at {approval['decided_at']}"
               if approval["decided_by"] else ""),
            {"status": approval["status"], "decided_by": approval["decided_by"],
             "decided_at": approval["decided_at"]})
    status = "approved" if approve else "rejected"
    conn.execute("UPDATE approvals SET status = ?, decided_by = ?, decided_at = ?, comment = ?"
                 " WHERE id = ?", (status, user, now_iso(), comment, approval_id))
    add_event(conn, run_id, f"approval.{status}", user,
              {"approval_id": approval_id, "step": approval["step"], "comment": comment})
    if run["status"] in (RunStatus.WAITING_APPROVAL, RunStatus.RUNNING):
        return apply_decision(conn, run_id, approval_id)
    return False  # paused: resume applies it


def reads(conn: sqlite3.Connection, run, user: str) -> bool:
    return run["owner"] == user or conn.execute(
        "SELECT 1 FROM approvals a, json_each(a.approvers) j WHERE a.run_id = ? AND j.value = ?",
        (run["id"], user)).fetchone() is not None


def apply_decision(conn: sqlite3.Connection, run_id: str, approval_id: str) -> bool:
    """Carry a recorded decision into the run: go on, or fail. True when it was applied now
    (the run's Runner, live or not, must look again: to go on, or to stop its branches)."""
    a = conn.execute("SELECT * FROM approvals WHERE id = ?", (approval_id,)).fetchone()
    if a["applied"]:
        return False
    conn.execute("UPDATE approvals SET applied = 1 WHERE id = ?", (approval_id,))
    now = now_iso()
    step_status = "succeeded" if a["status"] == "approved" else "failed"
    output = {"decision": a["status"], "decided_by": a["decided_by"], "comment": a["comment"]}
    error = None if step_status == "succeeded" else f"{a['status']} by {a['decided_by']}"
    conn.execute(
        "UPDATE steps SET status = ?, finished_at = ?, output = ?, error = ?, wake_at = NULL"
        " WHERE run_id = ? AND idx = ?", (step_status, now, dumps(output), error, run_id,
                                          a["idx"]))
    conn.execute("UPDATE step_attempts SET status = ?, finished_at = ?, error = ? WHERE run_id = ?"
                 " AND idx = ? AND status = 'waiting'", (step_status, now, error, run_id, a["idx"]))
    if step_status == "failed":
        add_event(conn, run_id, "step.failed", SYSTEM, {"step": a["step"], "error": error})
        reason = "approval_timeout" if a["decided_by"] == SYSTEM else "approval_rejected"
        fail_run(conn, run_id, reason, {"step": a["step"], "comment": a["comment"]})
        return True
    add_event(conn, run_id, "step.succeeded", SYSTEM, {"step": a["step"]})
    insert_snapshot(conn, run_id, a["idx"], a["step"], _state(conn, run_id))
    status = conn.execute("SELECT status FROM runs WHERE id = ?", (run_id,)).fetchone()[0]
    target = transition(status, Action.APPROVE) if status == RunStatus.WAITING_APPROVAL else status
    # wake_at now: whether or not a Runner is live, the run is looked at again at once.
    conn.execute("UPDATE runs SET status = ?, current_step = ?, wake_at = ?, updated_at = ?,"
                 " recoveries = 0 WHERE id = ?",
                 (target, _position(conn, run_id), time.time(), now, run_id))
    return True


def _state(conn: sqlite3.Connection, run_id: str) -> dict:
    run = conn.execute("SELECT input FROM runs WHERE id = ?", (run_id,)).fetchone()
    rows = conn.execute("SELECT idx, name, output FROM steps WHERE run_id = ? AND status IN"
                        " ('succeeded', 'skipped') ORDER BY idx", (run_id,)).fetchall()
    done = {r["name"]: loads(r["output"]) or {} for r in rows}
    skipped = [r["name"] for r in conn.execute(
        "SELECT name FROM steps WHERE run_id = ? AND status = 'skipped' ORDER BY idx", (run_id,))]
    return {"input": json.loads(run["input"]), "outputs": done, "skipped": skipped,
            "position": _position(conn, run_id)}


def _position(conn: sqlite3.Connection, run_id: str) -> int:
    """current_step: the first step not done yet (the step count once all are)."""
    return conn.execute(
        "SELECT COALESCE(MIN(idx) FILTER (WHERE status NOT IN ('succeeded', 'skipped')),"
        " COUNT(*)) FROM steps WHERE run_id = ?", (run_id,)).fetchone()[0]


def expire_due(conn: sqlite3.Connection, run_id: str) -> bool:
    """Apply the timeout of a gate whose deadline passed; True when one did."""
    a = conn.execute("SELECT * FROM approvals WHERE run_id = ? AND status = 'pending'"
                     " AND expires_at <= ?", (run_id, time.time())).fetchone()
    if a is None:
        return False
    approve = a["on_timeout"] == "approve"
    status = "approved" if approve else "expired"
    comment = f"{'approved' if approve else 'rejected'} when the gate timed out"
    conn.execute("UPDATE approvals SET status = ?, decided_by = ?, decided_at = ?, comment = ?"
                 " WHERE id = ?", (status, SYSTEM, now_iso(), comment, a["id"]))
    add_event(conn, run_id, "approval.expired", SYSTEM,
              {"approval_id": a["id"], "step": a["step"], "on_timeout": a["on_timeout"]})
    return apply_decision(conn, run_id, a["id"])


def expire_all_due(conn: sqlite3.Connection, run_id: str) -> None:
    """Every gate of the run whose deadline passed takes its timeout's decision."""
    while expire_due(conn, run_id):
        pass


def pending_decided(conn: sqlite3.Connection, run_id: str) -> str | None:
    """A decision taken while the run was paused, waiting to be applied on resume."""
    row = conn.execute("SELECT id FROM approvals WHERE run_id = ? AND applied = 0 AND status IN"
                       " ('approved', 'rejected', 'expired')", (run_id,)).fetchone()
    return row[0] if row else None


def cancel_open(conn: sqlite3.Connection, run_id: str, actor: str) -> None:
    for (approval_id, step) in conn.execute(
            "SELECT id, step FROM approvals WHERE run_id = ? AND status = 'pending'", (run_id,)):
        conn.execute("UPDATE approvals SET status = 'cancelled', decided_by = ?, decided_at = ?,"
                     " applied = 1 WHERE id = ?", (actor, now_iso(), approval_id))
        add_event(conn, run_id, "approval.cancelled", actor,
                  {"approval_id": approval_id, "step": step})


def claim(conn: sqlite3.Connection, run_id: str) -> dict | None:
    """Claim a woken run for its Runner, first applying a gate's timeout that has passed."""
    from wfe.daemon.store.ops_steps import claim_run

    status = conn.execute("SELECT status FROM runs WHERE id = ?", (run_id,)).fetchone()
    if status is not None and status[0] == RunStatus.WAITING_APPROVAL:
        expire_all_due(conn, run_id)
    return claim_run(conn, run_id)
