"""Schedules: their rows, and firing them. Each op runs inside the single writer.

A fire is one transaction: the run it starts (made as a request would make it), its
events, and the schedule's next fire time are committed together, and the fire checks
the next fire time it read, so a crash before the commit fires again after the restart
and a crash after it never fires twice.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field

from wfe.daemon.faults import fault
from wfe.daemon.secrets import Sealer, SecretUnavailable, hide_sealed, open_inputs, seal_inputs
from wfe.daemon.store import ops_runs
from wfe.daemon.store.util import (
    SYSTEM,
    dumps,
    enqueue_deliveries,
    loads,
    new_id,
    now_iso,
)
from wfe.engine import schedules as eng
from wfe.engine.run_parts import run_parts
from wfe.engine.spec import TemplateSpec
from wfe.errors import NotFound, WfeError

ACTIVE = "status NOT IN ('completed', 'failed', 'cancelled')"
MAX_EVENTS_SHOWN = 20
MAX_PER_PASS = 100  # schedules fired per timer pass; the rest are due at once after it


@dataclass(frozen=True)
class FireContext:
    sealer: Sealer | None
    callback_key: bytes
    grace: float  # how late a fire may be and still be on time (catch-up none)
    cap: int  # max_catchup_runs
    # (template id, its spec's JSON) -> the parsed spec; the supervisor's cache, since a
    # published template never changes and parsing it was a sixth of a fire's time.
    spec_of: Callable[[str, str], TemplateSpec] | None = None

    def template_spec(self, tpl: sqlite3.Row) -> TemplateSpec:
        if self.spec_of is not None:
            return self.spec_of(tpl["id"], tpl["spec"])
        return TemplateSpec.model_validate(json.loads(tpl["spec"]))


@dataclass
class Fired:
    started: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    buffered: bool = False  # a fire waits for a run to end


def seal_context(schedule_id: str) -> str:
    return f"schedule:{schedule_id}"


def load(conn: sqlite3.Connection, schedule_id: str, owner: str) -> sqlite3.Row:
    row = conn.execute("SELECT * FROM schedules WHERE id = ? AND owner = ?",
                       (schedule_id, owner)).fetchone()
    if row is None:  # another user's schedule is unknown too
        raise NotFound(f"schedule {schedule_id} not found")
    return row


def _spec(row) -> eng.Spec:
    return eng.spec_from_dict(json.loads(row["spec"]))


def _times(sched_id: str, spec: eng.Spec, jitter: float, after: float) -> tuple[float, float]:
    nxt = eng.next_fire(spec, after)
    return nxt, nxt + eng.jitter_for(sched_id, jitter)


def create_schedule(conn: sqlite3.Connection, sched_id: str, owner: str, values: dict,
                    now: float) -> None:
    spec = eng.spec_from_dict(values["spec"])
    nxt, due = _times(sched_id, spec, values["jitter"], now)
    at = now_iso(now)
    conn.execute(
        "INSERT INTO schedules (id, owner, name, template, version, input, spec, overlap,"
        " catchup, jitter, paused_at, next_fire_at, due_at, created_at, updated_at)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (sched_id, owner, values["name"], values["template"], values["version"],
         dumps(values["input"]), dumps(values["spec"]), values["overlap"], values["catchup"],
         values["jitter"], now if values["paused"] else None, nxt, due, at, at))


def update_schedule(conn: sqlite3.Connection, sched_id: str, owner: str, values: dict,
                    now: float) -> None:
    """``values``: the columns to change; a new spec or jitter moves the next fire."""
    row = load(conn, sched_id, owner)
    sets = {k: (dumps(v) if k in ("input", "spec") else v) for k, v in values.items()}
    if "spec" in values or "jitter" in values:
        spec = eng.spec_from_dict(values.get("spec") or json.loads(row["spec"]))
        sets["next_fire_at"], sets["due_at"] = _times(
            sched_id, spec, values.get("jitter", row["jitter"]), now)
    sets["updated_at"] = now_iso(now)
    cols = ", ".join(f"{k} = ?" for k in sets)
    conn.execute(f"UPDATE schedules SET {cols} WHERE id = ?", (*sets.values(), sched_id))


def pause_schedule(conn: sqlite3.Connection, sched_id: str, owner: str, now: float) -> None:
    row = load(conn, sched_id, owner)
    if row["paused_at"] is None:
        conn.execute("UPDATE schedules SET paused_at = ?, updated_at = ? WHERE id = ?",
                     (now, now_iso(now), sched_id))


def resume_schedule(conn: sqlite3.Connection, sched_id: str, owner: str, now: float) -> None:
    """The fires due while it was paused are skipped (one event says so), not caught up."""
    row = load(conn, sched_id, owner)
    if row["paused_at"] is None:
        return
    if row["next_fire_at"] <= now:
        _skipped(conn, row, "paused", {"from": now_iso(row["next_fire_at"]),
                                       "to": now_iso(now)})
    nxt, due = _times(sched_id, _spec(row), row["jitter"], now)
    conn.execute("UPDATE schedules SET paused_at = NULL, next_fire_at = ?, due_at = ?,"
                 " updated_at = ? WHERE id = ?", (nxt, due, now_iso(now), sched_id))


def delete_schedule(conn: sqlite3.Connection, sched_id: str, owner: str) -> None:
    load(conn, sched_id, owner)  # its runs stay, naming it
    conn.execute("DELETE FROM schedules WHERE id = ?", (sched_id,))


def trigger_schedule(conn: sqlite3.Connection, sched_id: str, owner: str, ctx: FireContext,
                     now: float) -> Fired:
    """A run now, whatever the overlap policy says: someone asked for it (its template's
    concurrency limit still holds)."""
    out = Fired()
    out.started.append(_start(conn, load(conn, sched_id, owner), ctx, now, out.cancelled))
    return out


# ---- firing ----------------------------------------------------------------------------

def next_due(conn: sqlite3.Connection) -> tuple[float | None, bool]:
    """When the timer should fire schedules next, and whether a fire waits for a run."""
    (due,) = conn.execute("SELECT MIN(due_at) FROM schedules WHERE paused_at IS NULL"
                          ).fetchone()
    buffered = conn.execute("SELECT 1 FROM schedules WHERE buffered_for IS NOT NULL LIMIT 1"
                            ).fetchone()
    return due, buffered is not None


def fire_due(conn: sqlite3.Connection, now: float, ctx: FireContext) -> Fired:
    """Fire every schedule whose time has come, and start the buffered fires whose
    previous run ended."""
    out = Fired()
    for row in conn.execute(
            "SELECT * FROM schedules s WHERE buffered_for IS NOT NULL AND paused_at IS NULL"
            f" AND NOT EXISTS (SELECT 1 FROM runs WHERE schedule_id = s.id AND {ACTIVE})"
            " LIMIT ?", (MAX_PER_PASS,)).fetchall():
        conn.execute("UPDATE schedules SET buffered_for = NULL WHERE id = ?", (row["id"],))
        _guarded(conn, row, lambda d, r=row: _start(conn, r, ctx, r["buffered_for"], d),
                 out)
    due = conn.execute("SELECT * FROM schedules WHERE due_at <= ? AND paused_at IS NULL"
                       " ORDER BY due_at LIMIT ?", (now, MAX_PER_PASS)).fetchall()
    for row in due:
        _fire_one(conn, row, now, ctx, out)
    out.buffered = next_due(conn)[1]
    return out


def _fire_one(conn, row, now: float, ctx: FireContext, out: Fired) -> None:
    spec = _spec(row)
    delay = eng.jitter_for(row["id"], row["jitter"])
    plan = eng.catchup_plan(spec, eng.Catchup(row["catchup"]), row["next_fire_at"], now,
                            delay, ctx.grace, ctx.cap)
    if plan.missed:
        _skipped(conn, row, "missed", {"count_at_least": plan.missed,
                                       "catchup": row["catchup"]})
    buffered = row["buffered_for"] is not None
    for when in plan.fire:
        active = [r[0] for r in conn.execute(
            f"SELECT id FROM runs WHERE schedule_id = ? AND {ACTIVE}", (row["id"],))]
        decision = eng.overlap_decision(eng.Overlap(row["overlap"]), len(active), buffered)
        if decision is eng.Decision.SKIP:
            _skipped(conn, row, "overlap", {"scheduled_for": now_iso(when),
                                            "running": active[:10]})
        elif decision is eng.Decision.BUFFER:
            conn.execute("UPDATE schedules SET buffered_for = ? WHERE id = ?", (when, row["id"]))
            buffered = True
        else:
            if decision is eng.Decision.CANCEL_AND_START:
                for run_id in active:
                    ops_runs.cancel_run(conn, run_id, row["owner"], f"schedule:{row['id']}",
                                        "cancelled by its schedule: a new run started")
                out.cancelled += active
            _guarded(conn, row, lambda d, w=when: _start(conn, row, ctx, w, d), out)
    conn.execute("UPDATE schedules SET next_fire_at = ?, due_at = ? WHERE id = ?",
                 (plan.next_fire, plan.next_fire + delay, row["id"]))


def _guarded(conn, row, start, out: Fired) -> None:
    """A fire that cannot start its run (the template is gone, the input no longer fits
    it) is recorded as skipped; the schedule goes on."""
    conn.execute("SAVEPOINT fire")
    displaced: list[str] = []  # runs cancelled to make room for it (concurrency)
    try:
        out.started.append(start(displaced))
        out.cancelled += displaced
    except WfeError as e:
        conn.execute("ROLLBACK TO fire")
        _skipped(conn, row, "error", {"error": e.message, "details": e.details})
    except SecretUnavailable as e:
        conn.execute("ROLLBACK TO fire")
        _skipped(conn, row, "error", {"error": f"secret input {e.name} does not open"})
    conn.execute("RELEASE fire")


def _start(conn, row, ctx: FireContext, when: float, displaced: list[str]) -> str:
    run_id = new_id()  # secret inputs are sealed to their run, so the id comes first
    tpl = _template(conn, row["template"], row["version"])
    spec = ctx.template_spec(tpl)
    raw, _ = open_inputs(loads(row["input"]), ctx.sealer, seal_context(row["id"]))
    template, steps, inputs = run_parts(spec, dict(tpl), raw,
                                        {"id": run_id, "owner": row["owner"]})
    inputs = seal_inputs(spec.variables, inputs, ctx.sealer, run_id)
    scheduled_for = now_iso(when)
    fired = ("schedule.fired", f"schedule:{row['id']}", {
        "schedule_id": row["id"], "schedule": row["name"], "scheduled_for": scheduled_for})
    ops_runs.create_run(conn, row["owner"], template, steps, inputs, "schedule", None,
                        ctx.callback_key, run_id, (row["id"], scheduled_for), displaced,
                        (fired,))
    conn.execute("UPDATE schedules SET last_fire_at = ?, last_run_id = ? WHERE id = ?",
                 (when, run_id, row["id"]))
    fault("schedule_fire")  # the run exists in this transaction, not yet committed
    return run_id


def _template(conn, name: str, version: int | None) -> sqlite3.Row:
    sql = "SELECT * FROM templates WHERE name = ? AND status = 'published'"
    args: tuple = (name,)
    if version is not None:
        sql, args = sql + " AND version = ?", (name, version)
    row = conn.execute(sql + " ORDER BY version DESC LIMIT 1", args).fetchone()
    if row is None:
        ref = name if version is None else f"{name}@{version}"
        raise NotFound(f"no published template {ref}")
    return row


def _skipped(conn, row, reason: str, data: dict) -> None:
    """Kept with the schedule (it belongs to no run) and sent to the owner's webhooks."""
    at = now_iso()
    body = {"schedule_id": row["id"], "schedule": row["name"], "reason": reason, **data}
    conn.execute("INSERT INTO schedule_events (schedule_id, type, at, data) VALUES (?,?,?,?)",
                 (row["id"], "schedule.skipped", at, dumps(body)))
    hooks = conn.execute("SELECT id, events FROM webhooks WHERE owner = ? AND run_id IS NULL",
                         (row["owner"],)).fetchall()
    if hooks:  # event_id 0: not an event of a run's log
        enqueue_deliveries(conn, hooks, 0, "schedule.skipped",
                           {"type": "schedule.skipped", "timestamp": at,
                            "data": {"actor": SYSTEM, **body}}, at)


# ---- reads (on the reader connection) ----------------------------------------------------

VIEW = ("SELECT s.*, r.status AS last_run_status FROM schedules s"
        " LEFT JOIN runs r ON r.id = s.last_run_id")


def _iso(ts: float | None) -> str | None:
    return None if ts is None else now_iso(ts)


def view(row) -> dict:
    spec = json.loads(row["spec"])
    return {
        "id": row["id"], "name": row["name"], "owner": row["owner"],
        "template": row["template"], "version": row["version"],
        "input": hide_sealed(loads(row["input"])), "cron": spec.get("cron"),
        "tz": spec.get("tz"), "every": spec.get("every"), "offset": spec.get("offset"),
        "overlap": row["overlap"], "catchup": row["catchup"], "jitter": row["jitter"],
        "paused": row["paused_at"] is not None,
        "next_fire_at": None if row["paused_at"] is not None else _iso(row["due_at"]),
        "last_fire_at": _iso(row["last_fire_at"]), "last_run_id": row["last_run_id"],
        "last_run_status": row["last_run_status"],
        "buffered_for": _iso(row["buffered_for"]),
        "created_at": row["created_at"], "updated_at": row["updated_at"],
    }


def read_schedule(conn: sqlite3.Connection, sched_id: str, owner: str) -> dict | None:
    row = conn.execute(VIEW + " WHERE s.id = ? AND s.owner = ?", (sched_id, owner)).fetchone()
    if row is None:
        return None
    out = view(row)
    events = conn.execute(
        "SELECT type, at, data FROM schedule_events WHERE schedule_id = ? ORDER BY id DESC"
        " LIMIT ?", (sched_id, MAX_EVENTS_SHOWN)).fetchall()
    out["events"] = [{"type": e["type"], "at": e["at"], "data": loads(e["data"])}
                     for e in events]
    return out


def list_schedules(conn: sqlite3.Connection, owner: str, limit: int,
                   offset: int) -> tuple[list[dict], int]:
    (total,) = conn.execute("SELECT COUNT(*) FROM schedules WHERE owner = ?",
                            (owner,)).fetchone()
    rows = conn.execute(VIEW + " WHERE s.owner = ? ORDER BY s.created_at DESC, s.rowid DESC"
                        " LIMIT ? OFFSET ?", (owner, limit, offset)).fetchall()
    return [view(r) for r in rows], total
