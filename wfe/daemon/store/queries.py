"""Read-only queries on the reader connection, shaped as the API's response dicts."""

from __future__ import annotations

import sqlite3
import time
import uuid
from datetime import datetime

from wfe.daemon.secrets import SEALED_PREFIX, hide_sealed
from wfe.daemon.store import Store
from wfe.daemon.store.item_queries import item_progress
from wfe.daemon.store.ops_concurrency import queued_behind
from wfe.daemon.store.ops_handlers import handlers_view
from wfe.daemon.store.util import dumps, loads, now_iso

# The name of the step a run is at (or stopped at), for people: an index means little.
CURRENT_STEP_NAME = "(SELECT s.name FROM steps s WHERE s.run_id = r.id AND s.idx = r.current_step)"
RUN_COLUMNS = (
    "r.id, r.status, r.trigger_type, r.parent_run_id, r.parent_step, r.schedule_id,"
    " r.scheduled_for, r.input, r.owner, r.reason, r.current_step, r.created_at,"
    " r.started_at, r.finished_at, r.updated_at, t.id AS t_id, t.name AS t_name,"
    f" t.version AS t_version, {CURRENT_STEP_NAME} AS current_step_name"
)


def is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        return False
    return True


def template_view(row: dict) -> dict:
    spec = loads(row["spec"])
    return {
        "id": row["id"], "name": row["name"], "version": row["version"],
        "status": row["status"], "description": row["description"],
        "variables": spec.get("variables") or {}, "steps": spec.get("steps") or [],
        "defaults": spec.get("defaults"), "timeout": spec.get("timeout"),
        "retention": spec.get("retention"),
        "owner": row["owner"], "created_at": row["created_at"],
        "published_at": row["published_at"], "concurrency": spec.get("concurrency"),
    }


# Published templates are the team's shared catalog; a draft is its author's. A viewer of
# None sees every draft (the API passes None for a role that may touch any template).
def _visible(viewer: dict | None) -> tuple[str, tuple]:
    if viewer is None:
        return "", ()
    return " AND (status != 'draft' OR owner = ?)", (viewer["name"],)


async def get_template(store: Store, ref: str, published_only: bool = False,
                       viewer: dict | None = None) -> dict | None:
    """A template by id, NAME (latest) or NAME@VERSION, as ``viewer`` may see it."""
    cond, params = _visible(viewer)
    if published_only:
        cond += " AND status = 'published'"
    if is_uuid(ref):
        # Ids are stored in lower case; a UUID matches in either case.
        return await store.one(f"SELECT * FROM templates WHERE id = ?{cond}",
                               (ref.lower(), *params))
    name, _, version = ref.partition("@")
    if version:
        if not version.isdigit():
            return None
        return await store.one(f"SELECT * FROM templates WHERE name = ? AND version = ?{cond}",
                               (name, int(version), *params))
    return await store.one(
        f"SELECT * FROM templates WHERE name = ?{cond} ORDER BY version DESC LIMIT 1",
        (name, *params))


async def list_templates(store: Store, name: str | None, status: str | None, limit: int,
                         offset: int, viewer: dict | None = None) -> tuple[list[dict], int]:
    cond, visible = _visible(viewer)
    where, params = ["1 = 1" + cond], list(visible)
    if name:
        where.append("name = ?")
        params.append(name)
    if status:
        where.append("status = ?")
        params.append(status)
    return store.read(_list_templates, " AND ".join(where), params, limit, offset)


def _list_templates(conn: sqlite3.Connection, where: str, params: list, limit: int,
                    offset: int) -> tuple[list[dict], int]:
    (total,) = conn.execute(f"SELECT COUNT(*) FROM templates WHERE {where}", params).fetchone()
    rows = _rows(conn, f"SELECT * FROM templates WHERE {where} ORDER BY name, version DESC"
                       " LIMIT ? OFFSET ?", (*params, limit, offset))
    return [template_view(r) for r in rows], total


def run_view(row: dict) -> dict:
    return {
        "id": row["id"], "status": row["status"], "trigger_type": row["trigger_type"],
        "parent_run_id": row["parent_run_id"], "parent_step": row["parent_step"],
        "schedule_id": row["schedule_id"], "scheduled_for": row["scheduled_for"],
        "input": hide_sealed(loads(row["input"])), "owner": row["owner"], "reason": row["reason"],
        "current_step": row["current_step"], "current_step_name": row["current_step_name"],
        "created_at": row["created_at"],
        "started_at": row["started_at"], "finished_at": row["finished_at"],
        "updated_at": row["updated_at"],
        "template": {"id": row["t_id"], "name": row["t_name"], "version": row["t_version"]},
    }


# The owner reads a run; so do the people named as approvers of one of its gates.
READABLE = ("(r.owner = ? OR EXISTS (SELECT 1 FROM approvals a, json_each(a.approvers) j"
            " WHERE a.run_id = r.id AND j.value = ?))")


async def get_run(store: Store, run_id: str, user: str, detail: bool = True) -> dict | None:
    """The run as ``user`` may see it, with its steps, events and approvals unless not
    ``detail``: all read in one transaction, so the status agrees with the last event."""
    if not is_uuid(run_id):
        return None
    return store.read(read_run, run_id, user, detail)


def _rows(conn: sqlite3.Connection, sql: str, params: tuple) -> list[dict]:
    return [dict(r) for r in conn.execute(sql, params).fetchall()]


def read_run(conn: sqlite3.Connection, run_id: str, user: str, detail: bool) -> dict | None:
    rows = _rows(conn, f"SELECT {RUN_COLUMNS} FROM runs r JOIN templates t ON t.id = r.template_id"
                       f" WHERE r.id = ? AND {READABLE}", (run_id, user, user))
    if not rows:
        return None
    run = run_view(rows[0])
    run["queued_behind"] = queued_behind(conn, run_id)
    if detail:
        run["steps"] = _steps(conn, run_id)
        run["current_steps"] = current_steps(run["steps"])
        run["events"] = _events(conn, run_id)
        run["approvals"] = _approvals(conn, run_id)
        run["handlers"] = handlers_view(conn, run_id)
    return run


async def get_run_json(store: Store, run_id: str, user: str) -> str | None:
    """``get_run`` as the Run model's JSON, the events spliced in as SQLite writes them."""
    if not is_uuid(run_id):
        return None
    return store.read(read_run_json, run_id, user)


# The events are most of a run's answer: SQLite joins them into JSON text, each event's
# data (stored JSON, masked when written) spliced as is, instead of parsed and re-encoded.
EVENTS_JSON = (
    "SELECT '[' || COALESCE(group_concat('{\"seq\":' || seq || ',\"type\":' || json_quote(type)"
    " || ',\"actor\":' || json_quote(actor) || ',\"at\":' || json_quote(at)"
    " || ',\"data\":' || data || '}', ','), '') || ']'"
    " FROM (SELECT seq, type, actor, at, data FROM events WHERE run_id = ? AND seq > 0"
    " ORDER BY seq) AS e")
# Stands for the events in the encoded run until they replace it: no stored text can hold
# it (it is new each start and never leaves the daemon).
_EVENTS_HERE = f"events-{uuid.uuid4().hex}"


def read_run_json(conn: sqlite3.Connection, run_id: str, user: str) -> str | None:
    run = read_run(conn, run_id, user, detail=False)
    if run is None:
        return None
    run["steps"] = _steps(conn, run_id)
    run["current_steps"] = current_steps(run["steps"])
    run["events"] = _EVENTS_HERE
    run["approvals"] = _approvals(conn, run_id)
    run["handlers"] = handlers_view(conn, run_id)
    run["callback_secret"] = None
    (events,) = conn.execute(EVENTS_JSON, (run_id,)).fetchone()
    return dumps(run).replace(f'"{_EVENTS_HERE}"', events, 1)


def _approvals(conn: sqlite3.Connection, run_id: str) -> list[dict]:
    # template and age_seconds are the inbox's; within a run they are null, as the model says.
    return [{**approval_view(r), "template": None, "age_seconds": None} for r in _rows(
        conn, f"SELECT {APPROVAL_COLUMNS} FROM approvals a WHERE a.run_id = ?"
              " ORDER BY a.requested_at", (run_id,))]


def _steps(conn: sqlite3.Connection, run_id: str) -> list[dict]:
    attempts: dict[int, list[dict]] = {}
    for r in _rows(conn, "SELECT idx, attempt, status, started_at, finished_at, exit_code, error,"
                         " log_tail FROM step_attempts WHERE run_id = ? ORDER BY idx, attempt",
                   (run_id,)):
        idx = r.pop("idx")
        r["duration"] = _duration(r["started_at"], r["finished_at"])
        attempts.setdefault(idx, []).append(r)
    rows = _rows(conn, "SELECT idx, name, kind, status, attempt, started_at, finished_at, output,"
                       " error, exit_code, log_tail, wake_at, needs, child_run_id FROM steps"
                       " WHERE run_id = ?"
                       " ORDER BY idx", (run_id,))
    previous: list[str] = []
    progress = item_progress(conn, run_id)
    for r in rows:
        r["index"] = r.pop("idx")
        r["items"] = progress.get(r["index"])
        r["needs"] = loads(r["needs"]) if r["needs"] is not None else previous
        previous = [r["name"]]
        r["output"] = loads(r["output"])
        r["wake_at"] = now_iso(r["wake_at"]) if r["wake_at"] is not None else None
        r["attempts"] = attempts.get(r["index"], [])
    return rows


def current_steps(steps: list[dict]) -> list[int]:
    """The steps executing or waiting now: several at once when branches run side by side."""
    return [s["index"] for s in steps if s["status"] in ("running", "waiting")]


def _events(conn: sqlite3.Connection, run_id: str) -> list[dict]:
    rows = _rows(conn, "SELECT seq, type, actor, at, data FROM events WHERE run_id = ? AND seq > 0"
                       " ORDER BY seq", (run_id,))
    for r in rows:
        r["data"] = loads(r["data"])
    return rows


APPROVAL_COLUMNS = ("a.id, a.run_id, a.step, a.status, a.message, a.approvers, a.on_timeout,"
                    " a.requested_at, a.expires_at, a.decided_by, a.decided_at, a.comment")


def approval_view(row: dict) -> dict:
    row["approvers"] = loads(row["approvers"])
    row["expires_at"] = now_iso(row["expires_at"]) if row["expires_at"] is not None else None
    return row


async def approval_inbox(store: Store, user: str, status: str | None, limit: int,
                         offset: int) -> tuple[list[dict], int]:
    """Every approval the user may decide: on their own runs, or naming them.

    Naming is found by reading each gate's approvers, which grows with every gate ever
    opened (10 ms at 10,000): this runs on the reader's thread, not the event loop."""
    # Most gates name nobody; '[]' is skipped before json_each is set up for it.
    where = ("(r.owner = ? OR (a.approvers != '[]' AND EXISTS (SELECT 1 FROM"
             " json_each(a.approvers) j WHERE j.value = ?)))")
    params: list = [user, user]
    if status:
        where += " AND a.status = ?"
        params.append(status)
    base = ("FROM approvals a JOIN runs r ON r.id = a.run_id"
            f" JOIN templates t ON t.id = r.template_id WHERE {where}")
    counted, rows = await store.all_bg(
        (f"SELECT COUNT(*) AS n {base}", tuple(params)),
        (f"SELECT {APPROVAL_COLUMNS}, t.id AS t_id, t.name AS t_name, t.version AS t_version,"
         f" r.owner AS run_owner {base} ORDER BY a.requested_at DESC LIMIT ? OFFSET ?",
         (*params, limit, offset)))
    now = time.time()
    out = []
    for r in rows:
        item = approval_view(r)
        item["template"] = {"id": r.pop("t_id"), "name": r.pop("t_name"),
                            "version": r.pop("t_version")}
        requested = datetime.fromisoformat(item["requested_at"].replace("Z", "+00:00"))
        item["age_seconds"] = round(now - requested.timestamp(), 3)
        out.append(item)
    return out, counted[0]["n"]


def _duration(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    a = datetime.fromisoformat(start.replace("Z", "+00:00"))
    b = datetime.fromisoformat(end.replace("Z", "+00:00"))
    return round((b - a).total_seconds(), 6)


async def user_by_token_hash(store: Store, digest: str) -> dict | None:
    return await store.one(
        "SELECT u.id, u.name, u.role, u.created_at, t.hash FROM tokens t"
        " JOIN users u ON u.id = t.user_id WHERE t.hash = ? AND t.revoked_at IS NULL"
        " AND u.removed_at IS NULL", (digest,))


async def get_user(store: Store, ref: str) -> dict | None:
    """A current user by id or name (an id wins over a name that looks like one)."""
    return await store.one(
        "SELECT id, name, role, created_at FROM users WHERE (id = lower(?1) OR name = ?1)"
        " AND removed_at IS NULL ORDER BY (id = lower(?1)) DESC LIMIT 1", (ref,))


async def list_users(store: Store, limit: int, offset: int) -> tuple[list[dict], int]:
    total = await store.scalar("SELECT COUNT(*) FROM users WHERE removed_at IS NULL")
    rows = await store.all(
        "SELECT id, name, role, created_at FROM users WHERE removed_at IS NULL"
        " ORDER BY created_at, rowid LIMIT ? OFFSET ?", (limit, offset))
    return rows, total


async def run_snapshots(store: Store, run_id: str, limit: int,
                        offset: int) -> tuple[list[dict], int]:
    total = await store.scalar("SELECT COUNT(*) FROM snapshots WHERE run_id = ?", (run_id,))
    rows = await store.all(
        "SELECT id, after_idx AS after_step, step, state, created_at FROM snapshots"
        " WHERE run_id = ? ORDER BY created_at, rowid LIMIT ? OFFSET ?", (run_id, limit, offset))
    for r in rows:
        r["state"] = loads(r["state"])
    return rows, total


async def attempt_log(store: Store, run_id: str, step: str, attempt: int | None) -> dict | None:
    """The attempt's log file (the latest attempt unless one is named)."""
    sql = ("SELECT a.attempt, a.log_path FROM step_attempts a JOIN steps s ON s.run_id = a.run_id"
           " AND s.idx = a.idx WHERE a.run_id = ? AND s.name = ?")
    if attempt is None:
        return await store.one(sql + " ORDER BY a.attempt DESC LIMIT 1", (run_id, step))
    return await store.one(sql + " AND a.attempt = ?", (run_id, step, attempt))


async def list_tokens(store: Store, user_id: str, limit: int,
                      offset: int) -> tuple[list[dict], int]:
    total = await store.scalar("SELECT COUNT(*) FROM tokens WHERE user_id = ?", (user_id,))
    rows = await store.all(
        "SELECT id, name, created_at, revoked_at FROM tokens WHERE user_id = ?"
        " ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?", (user_id, limit, offset))
    return rows, total


AUDIT_COLUMNS = "e.run_id, e.seq, e.type, e.actor, e.at, e.data, e.hash"


# Hashes are checked against the run rows' heads read in the same transaction: a run that
# moves on meanwhile is seen as it was, never as a chain longer than its head.
async def audit_run(store: Store, run_id: str) -> tuple[list[dict], dict]:
    """A run's events exactly as stored (data as text), and what its row says the log ends with."""
    events, heads = await store.all_bg(
        (f"SELECT {AUDIT_COLUMNS} FROM events e WHERE e.run_id = ? ORDER BY e.seq, e.id",
         (run_id,)),
        ("SELECT id, last_seq, last_hash FROM runs WHERE id = ?", (run_id,)))
    return events, heads[0]


# A deletion record, with what is left of its run (nothing, when all went right).
DELETION = ("SELECT g.run_id, g.actor, g.created_at, g.data,"
            " (SELECT COUNT(*) FROM events e WHERE e.run_id = g.run_id) AS left,"
            " EXISTS (SELECT 1 FROM runs r WHERE r.id = g.run_id) AS still"
            " FROM global_events g WHERE g.type = 'run.deleted'")


async def audit_owner(store: Store, owner: str) -> tuple[list[dict], ...]:
    """The owner's events and run heads, their deletion records, and the runs of theirs
    whose events remain without a run row or a record (run.created's actor is the owner)."""
    return tuple(await store.all_bg(
        (f"SELECT {AUDIT_COLUMNS} FROM events e JOIN runs r ON r.id = e.run_id"
         " WHERE r.owner = ? ORDER BY e.run_id, e.seq, e.id", (owner,)),
        ("SELECT id, last_seq, last_hash FROM runs WHERE owner = ? ORDER BY created_at, rowid",
         (owner,)),
        (f"{DELETION} AND json_extract(g.data, '$.owner') = ? ORDER BY g.seq", (owner,)),
        ("SELECT e.run_id FROM events e WHERE e.seq = 1 AND e.type = 'run.created'"
         " AND e.actor = ? AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.id = e.run_id)"
         " AND NOT EXISTS (SELECT 1 FROM global_events g WHERE g.run_id = e.run_id"
         " AND g.type = 'run.deleted')", (owner,))))


async def audit_deleted(store: Store, run_id: str) -> dict | None:
    """A deleted run's record (None: no such record)."""
    rows = await store.all_bg((f"{DELETION} AND g.run_id = ?", (run_id,)))
    return rows[0][0] if rows[0] else None


def deletion_view(row: dict) -> dict:
    data = loads(row["data"])
    return {"run_id": row["run_id"], "template": data.get("template") or {},
            "events": data.get("events", 0), "head": data.get("head", ""),
            "deleted_by": row["actor"], "deleted_at": row["created_at"],
            "owner": data.get("owner"), "left": row["left"], "still": row["still"]}


async def run_input(store: Store, run_id: str) -> dict | None:
    """A run's stored input, or None when the run has no sealed value in it (the common
    case, answered without parsing it)."""
    stored = await store.scalar(
        f"SELECT input FROM runs WHERE id = ? AND instr(input, '{SEALED_PREFIX}') > 0", (run_id,))
    return loads(stored) if stored else None
