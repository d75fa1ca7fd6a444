"""Sub-workflows: a `workflow` step starts a child run and waits for it with no Runner.

The child's creation and the parent step's start share one transaction, and so do the
child's end and the parent step's result (``child_ended`` is called by complete_run,
fail_run and cancel_run), so after any crash a waiting parent step always has its child,
and a child that ended has always settled its parent's step.
"""

from __future__ import annotations

import json
import random
import sqlite3
import time
from typing import Any

from wfe.daemon.store.util import SYSTEM, add_event, loads, now_iso
from wfe.engine.retry import RetryPolicy
from wfe.engine.spec_models import TemplateSpec
from wfe.engine.states import Action, RunStatus, transition

DONE = ("succeeded", "skipped")


def find_template(conn: sqlite3.Connection, name: str, version: int | None) -> dict | None:
    """The published template a workflow step names (its latest version when unversioned)."""
    if version is not None:
        row = conn.execute("SELECT * FROM templates WHERE name = ? AND version = ?"
                           " AND status = 'published'", (name, version)).fetchone()
    else:
        row = conn.execute("SELECT * FROM templates WHERE name = ? AND status = 'published'"
                           " ORDER BY version DESC LIMIT 1", (name,)).fetchone()
    return dict(row) if row is not None else None


def start_child(conn: sqlite3.Connection, parent_id: str, idx: int, name: str, epoch: int,
                child: dict[str, Any], depth: int) -> int | None:
    """Record the parent step's start (waiting) and create its child run, linked both ways.

    ``child``: create_run's arguments (template, steps, input, callback_key, run_id,
    displaced).
    Returns the step's attempt, or None when the parent is no longer running.
    """
    from wfe.daemon.store.ops_runs import create_run
    from wfe.daemon.store.ops_steps import start_step

    (owner,) = conn.execute("SELECT owner FROM runs WHERE id = ?", (parent_id,)).fetchone()
    attempt = start_step(conn, parent_id, idx, name, epoch)
    if attempt is None:
        return None
    child_id = create_run(conn, owner, child["template"], child["steps"], child["input"],
                          "workflow", None, child["callback_key"], child["run_id"],
                          displaced=child.get("displaced"))
    conn.execute("UPDATE runs SET parent_run_id = ?, parent_step = ?, depth = ? WHERE id = ?",
                 (parent_id, name, depth, child_id))
    conn.execute("UPDATE steps SET status = 'waiting', child_run_id = ? WHERE run_id = ?"
                 " AND idx = ?", (child_id, parent_id, idx))
    conn.execute("UPDATE step_attempts SET status = 'waiting' WHERE run_id = ? AND idx = ?"
                 " AND attempt = ?", (parent_id, idx, attempt))
    add_event(conn, parent_id, "step.child_started", SYSTEM, {
        "step": name, "attempt": attempt, "child_run_id": child_id,
        "template": child["template"]["name"], "version": child["template"]["version"]})
    return attempt


def child_ended(conn: sqlite3.Connection, run_id: str, status: str, reason: str | None = None,
                data: dict | None = None) -> None:
    """The run ended: settle the parent step waiting for it, if any, and wake the parent."""
    run = conn.execute("SELECT parent_run_id FROM runs WHERE id = ?", (run_id,)).fetchone()
    if run is None or run[0] is None:
        return
    parent_id = run[0]
    step = conn.execute("SELECT idx, name, attempt, budget_from FROM steps WHERE run_id = ?"
                        " AND child_run_id = ? AND status = 'waiting'",
                        (parent_id, run_id)).fetchone()
    if step is None:  # the parent ended first (it cancelled this run) or moved on
        return
    if status == RunStatus.COMPLETED:
        outcome = {"status": "succeeded", "output": child_outputs(conn, run_id)}
    else:
        outcome = {"status": "failed", "error": _why(run_id, status, reason, data)}
    from wfe.daemon.store.ops_steps import finish_step

    spec = _spec(conn, parent_id)
    retry_at = _retry_at(spec, dict(step), outcome)
    state = _snapshot_state(conn, parent_id, step["idx"], outcome)
    finish_step(conn, parent_id, step["idx"], step["name"], step["attempt"], outcome, state,
                retry_at)
    _wake(conn, parent_id)


def child_outputs(conn: sqlite3.Connection, run_id: str) -> dict[str, Any]:
    """A completed child's result as its parent step's output: ``{step name: output}``."""
    rows = conn.execute("SELECT name, output FROM steps WHERE run_id = ? AND status ="
                        " 'succeeded' ORDER BY idx", (run_id,)).fetchall()
    return {r["name"]: loads(r["output"]) or {} for r in rows}


def cancel_children(conn: sqlite3.Connection, run_id: str, actor: str, why: str) -> None:
    """The run ended: its children still going are cancelled (theirs too, recursively)."""
    from wfe.daemon.store.ops_runs import cancel_run

    rows = conn.execute("SELECT id FROM runs WHERE parent_run_id = ? AND status NOT IN"
                        " ('completed', 'failed', 'cancelled')", (run_id,)).fetchall()
    for (child_id,) in rows:
        cancel_run(conn, child_id, None, actor, f"{why} (parent run {run_id})")


def ended_descendants(conn: sqlite3.Connection, run_id: str) -> list[str]:
    """Every run below this one that has ended, whose live Runners are to be stopped."""
    rows = conn.execute(
        "WITH RECURSIVE d(id) AS (SELECT id FROM runs WHERE parent_run_id = ?"
        " UNION SELECT r.id FROM runs r JOIN d ON r.parent_run_id = d.id)"
        " SELECT d.id FROM d JOIN runs r ON r.id = d.id"
        " WHERE r.status IN ('failed', 'cancelled')", (run_id,)).fetchall()
    return [r[0] for r in rows]


def _why(run_id: str, status: str, reason: str | None, data: dict | None) -> str:
    text = f"child run {run_id} {status}"
    if reason:
        text += f": {reason}"
    data = data or {}
    if data.get("step"):
        text += f" (step '{data['step']}'" + (f": {data['error']}" if data.get("error") else "")
        text += ")"
    elif data.get("message"):
        text += f" ({data['message']})"
    return text


def _spec(conn: sqlite3.Connection, run_id: str) -> TemplateSpec:
    (spec,) = conn.execute("SELECT t.spec FROM runs r JOIN templates t ON t.id = r.template_id"
                           " WHERE r.id = ?", (run_id,)).fetchone()
    return TemplateSpec.model_validate(json.loads(spec))


def _retry_at(spec: TemplateSpec, step: dict, outcome: dict) -> float | None:
    """When the step's retry policy grants another attempt (a new child run), or None."""
    if outcome["status"] != "failed":
        return None
    policy = RetryPolicy.from_spec(spec.effective_retry(spec.steps[step["idx"]]))
    since = step["budget_from"] or 0
    if not policy.should_retry(step["attempt"], "failed", None, since):
        return None
    return time.time() + policy.delay(step["attempt"] - since, random.random())


def _snapshot_state(conn: sqlite3.Connection, run_id: str, idx: int, outcome: dict) -> dict:
    """The parent's checkpoint after this step, as its Runner would write it."""
    rows = [dict(r) for r in conn.execute(
        "SELECT idx, name, status, output FROM steps WHERE run_id = ? ORDER BY idx", (run_id,))]
    for r in rows:
        r["output"] = loads(r["output"]) or {}
    if outcome["status"] == "succeeded":
        rows[idx].update(status="succeeded", output=outcome["output"])
    (stored_input,) = conn.execute("SELECT input FROM runs WHERE id = ?", (run_id,)).fetchone()
    return {"input": loads(stored_input),
            "outputs": {r["name"]: r["output"] for r in rows if r["status"] in DONE},
            "skipped": [r["name"] for r in rows if r["status"] == "skipped"],
            "position": next((r["idx"] for r in rows if r["status"] not in DONE), len(rows))}


def _wake(conn: sqlite3.Connection, run_id: str) -> None:
    """The parent goes on: a Runner claims it at the timer's next look."""
    status = conn.execute("SELECT status FROM runs WHERE id = ?", (run_id,)).fetchone()[0]
    if status == RunStatus.WAITING_APPROVAL:  # beside an open gate, other steps may go on
        transition(status, Action.START)
        conn.execute("UPDATE runs SET status = 'running', updated_at = ? WHERE id = ?",
                     (now_iso(), run_id))
        add_event(conn, run_id, "run.running", SYSTEM, {"why": "a child run ended"})
        status = RunStatus.RUNNING
    if status in (RunStatus.RUNNING, RunStatus.PENDING):
        conn.execute("UPDATE runs SET wake_at = ? WHERE id = ?", (time.time(), run_id))
