"""Run creation and the actions people take on runs. Each runs inside the single writer.

The engine's transition table decides every status change; these functions load the row,
ask the table, and write the outcome with its event in the same transaction.
"""

from __future__ import annotations

import json
import sqlite3
import time

from wfe.daemon.store.ops_concurrency import admit_new, queued_behind, retake
from wfe.daemon.store.ops_items import reset_items
from wfe.daemon.store.util import (
    SYSTEM,
    add_event,
    append_events,
    dumps,
    new_id,
    now_iso,
    ordered_id,
)
from wfe.engine.durations import parse_duration
from wfe.engine.states import (
    Action,
    RunStatus,
    StepAction,
    StepStatus,
    resume_target,
    step_transition,
    transition,
)
from wfe.errors import NotFound

WAITING_STEPS = (StepStatus.WAITING.value, StepStatus.PENDING.value)


def load_run(conn: sqlite3.Connection, run_id: str, owner: str | None = None) -> sqlite3.Row:
    """The run, or the same 404 whether it is unknown or someone else's."""
    row = conn.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
    if row is None or (owner is not None and row["owner"] != owner):
        raise NotFound(f"run {run_id} not found")
    return row


def create_run(conn: sqlite3.Connection, owner: str, template: dict,
               steps: list[tuple[str, str, tuple[str, ...]]],
               input_: dict, trigger_type: str, hook: dict | None = None,
               callback_key: bytes | None = None, run_id: str | None = None,
               schedule: tuple[str, str] | None = None,
               displaced: list[str] | None = None,
               more_events: tuple[tuple[str, str, dict], ...] = ()) -> str:
    """``hook``: ``{url, secret}`` of the start request's callback_url, which gets every
    event of this run (written before run.created, so that event is delivered too).
    ``run_id``: given when the caller needed it first (secret inputs are sealed to it).
    ``schedule``: (schedule id, the time it was due as stored) of a run a schedule starts.
    ``displaced``: gets the runs cancelled to make room (concurrency: cancel_oldest).
    ``more_events``: (type, actor, data) appended right after run.created."""
    run_id, now = run_id or new_id(), now_iso()
    conc = template.get("concurrency")
    seq, queued = (admit_new(conn, run_id, conc, template["name"], displaced)
                   if conc else (None, False))
    conn.execute(
        "INSERT INTO runs (id, owner, template_id, status, input, trigger_type, created_at,"
        " updated_at, wake_at, schedule_id, scheduled_for, concurrency_group, concurrency_key,"
        " concurrency_limit, concurrency_seq, concurrency_queued)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (run_id, owner, template["id"], RunStatus.PENDING.value, dumps(input_), trigger_type,
         now, now, None if queued else time.time(), *(schedule or (None, None)),
         *((conc["group"], conc["key"], conc["limit"]) if conc else (None, None, None)),
         seq, int(queued)),
    )
    conn.executemany(
        "INSERT INTO steps (run_id, idx, name, kind, status, needs) VALUES (?,?,?,?,?,?)",
        [(run_id, i, name, kind, StepStatus.PENDING.value, dumps(list(needs)))
         for i, (name, kind, needs) in enumerate(steps)],
    )
    if template.get("handlers"):
        from wfe.daemon.store.ops_handlers import insert_handlers

        insert_handlers(conn, run_id, template["handlers"])
    callbacks = [(i, name) for i, (name, kind, _) in enumerate(steps) if kind == "callback"]
    if callbacks:
        from wfe.daemon.store.ops_callbacks import register

        assert callback_key is not None, "a run with callback steps needs the callback key"
        register(conn, callback_key, run_id, callbacks)
    if hook is not None:
        conn.execute(
            "INSERT INTO webhooks (id, owner, url, events, secret, run_id, created_at)"
            " VALUES (?,?,?,'[\"*\"]',?,?,?)", (new_id(), owner, hook["url"], hook["secret"],
                                                run_id, now))
    # The run's first events in one batch (a new run's chain starts at seq 0 and ''), and
    # the chain's head into the row with one UPDATE: a schedule firing a hundred runs at
    # once makes each one this many statements fewer.
    created = ("run.created", owner, {
        "template": template["name"], "version": template["version"],
        "template_id": template["id"], "trigger_type": trigger_type,
    })
    last, head = append_events(conn, run_id, 0, "", owner, [created, *more_events])
    conn.execute("UPDATE runs SET last_seq = ?, last_hash = ? WHERE id = ?", (last, head, run_id))
    if queued:
        add_event(conn, run_id, "run.queued", SYSTEM, queued_behind(conn, run_id))
    return run_id


def pause_run(conn: sqlite3.Connection, run_id: str, owner: str, actor: str) -> None:
    run = load_run(conn, run_id, owner)
    target = transition(run["status"], Action.PAUSE)
    conn.execute(
        "UPDATE runs SET status = ?, paused_from = ?, wake_at = NULL, updated_at = ? WHERE id = ?",
        (target.value, run["status"], now_iso(), run_id),
    )
    add_event(conn, run_id, "run.paused", actor, {"from": run["status"]})


def resume_run(conn: sqlite3.Connection, run_id: str, owner: str, actor: str) -> None:
    from wfe.daemon.store import ops_approvals

    run = load_run(conn, run_id, owner)
    transition(run["status"], Action.RESUME)
    gate = conn.execute("SELECT expires_at FROM approvals WHERE run_id = ? AND status = 'pending'",
                        (run_id,)).fetchone()
    target = resume_target(run["paused_from"], approval_open=gate is not None)
    # A Runner is woken now; it goes back to sleep itself if a timer is still running.
    wake = time.time() if gate is None else gate["expires_at"]
    conn.execute(
        "UPDATE runs SET status = ?, paused_from = NULL, wake_at = ?, updated_at = ? WHERE id = ?",
        (target.value, wake, now_iso(), run_id),
    )
    add_event(conn, run_id, "run.resumed", actor, {"to": target.value})
    decided = ops_approvals.pending_decided(conn, run_id)
    if decided is not None:  # decided while paused: it takes effect now
        ops_approvals.apply_decision(conn, run_id, decided)


def cancel_run(conn: sqlite3.Connection, run_id: str, owner: str | None, actor: str,
               reason: str | None) -> None:
    run = load_run(conn, run_id, owner)
    target = transition(run["status"], Action.CANCEL)
    reason = reason or f"cancelled by {actor}"
    now = now_iso()
    conn.execute(
        "UPDATE runs SET status = ?, reason = ?, finished_at = ?, updated_at = ?, wake_at = NULL"
        " WHERE id = ?", (target.value, reason, now, now, run_id),
    )
    # Waiting and never-run steps are cancelled now; a step with a live process is closed
    # by its Runner once the process is gone.
    conn.execute(
        "UPDATE steps SET status = ?, finished_at = ?, wake_at = NULL"
        " WHERE run_id = ? AND status IN (?, ?)",
        (step_transition(StepStatus.WAITING, StepAction.CANCEL).value, now, run_id,
         StepStatus.WAITING.value, StepStatus.PENDING.value),
    )
    from wfe.daemon.store.ops_approvals import cancel_open

    cancel_open(conn, run_id, actor)
    add_event(conn, run_id, "run.cancelled", actor, {"reason": reason})
    from wfe.daemon.store import ops_children

    ops_children.cancel_children(conn, run_id, actor, "the parent run was cancelled")
    ops_children.child_ended(conn, run_id, RunStatus.CANCELLED, reason)


def retry_run(conn: sqlite3.Connection, run_id: str, owner: str, actor: str) -> None:
    run = load_run(conn, run_id, owner)
    target = transition(run["status"], Action.RETRY)
    from wfe.daemon.store.ops_handlers import refuse_while_handling

    refuse_while_handling(run, "retry")
    retake(conn, run, "retry")
    first = conn.execute(
        "SELECT idx, name FROM steps WHERE run_id = ? AND status NOT IN ('succeeded', 'skipped')"
        " ORDER BY idx LIMIT 1", (run_id,),
    ).fetchone()
    idx = first["idx"] if first else run["current_step"]
    # Only what did not get done runs again: completed branches keep their outputs.
    conn.execute(
        "UPDATE steps SET status = ?, error = NULL, wake_at = NULL, budget_from = attempt"
        " WHERE run_id = ? AND status NOT IN (?, ?)",
        (step_transition(StepStatus.FAILED, StepAction.RESET).value, run_id,
         StepStatus.SUCCEEDED.value, StepStatus.SKIPPED.value),
    )
    reset_items(conn, run_id)
    spec = conn.execute("SELECT spec FROM templates WHERE id = ?", (run["template_id"],)).fetchone()
    conn.execute(
        "UPDATE runs SET status = ?, reason = NULL, finished_at = NULL, current_step = ?,"
        " recoveries = 0, wake_at = ?, deadline = ?, updated_at = ? WHERE id = ?",
        (target.value, idx, time.time(), deadline_from(spec[0]), now_iso(), run_id),
    )
    add_event(conn, run_id, "run.retried", actor,
              {"step": first["name"] if first else None, "from": run["status"]})


def deadline_from(spec_json: str) -> float | None:
    """The run's whole-life deadline: wall-clock time from its start, waits included."""
    timeout = json.loads(spec_json).get("timeout")
    return time.time() + parse_duration(timeout) if timeout else None


def insert_snapshot(conn: sqlite3.Connection, run_id: str, after_idx: int, step: str,
                    state: dict) -> None:
    conn.execute(
        "INSERT INTO snapshots (id, run_id, after_idx, step, state, created_at)"
        " VALUES (?,?,?,?,?,?)",
        (ordered_id(), run_id, after_idx, step, dumps(state), now_iso()),
    )
