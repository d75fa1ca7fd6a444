"""A page of a user's runs, built as JSON text by SQLite, with the filters people list by."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from wfe.daemon.secrets import SEALED_PREFIX, hide_sealed
from wfe.daemon.store import Store
from wfe.daemon.store.ops_concurrency import MAX_SHOWN
from wfe.daemon.store.queries import CURRENT_STEP_NAME, is_uuid
from wfe.daemon.store.util import dumps, loads
from wfe.errors import NotFound, ValidationFailed


@dataclass(frozen=True)
class RunFilter:
    """Which of the owner's runs: ``since`` is a stored timestamp (``now_iso`` format), so
    that it compares with ``created_at`` as text."""

    status: str | None = None
    id_prefix: str | None = None
    template: str | None = None  # a template name: every version of it
    since: str | None = None
    schedule: str | None = None  # a schedule's id: the runs it started

    @property
    def counted(self) -> bool:
        """Whether the total must be counted: the kept counts are per owner and status only."""
        return bool(self.id_prefix or self.template or self.since or self.schedule)


async def list_runs(store: Store, owner: str, where: RunFilter, limit: int, offset: int,
                    before: str | None = None) -> tuple[str, int]:
    """A page of the owner's runs, newest first, as a JSON array (text), and their total.

    ``before`` (a run id) starts the page after that run: a cursor that costs the same
    however deep it is, where an offset reads every row it skips. A total that must be
    counted grows with the owner's runs, so such a page is read off the event loop."""
    sql, params = _where(owner, where)
    cursor = store.read(_cursor, owner, before) if before is not None else None
    if where.counted and not where.id_prefix:  # an id prefix matches a handful at most
        page_sql, page_params = _page(sql, params, cursor, limit, offset)
        counted, rows = await store.all_bg(
            (f"SELECT COUNT(*) AS n FROM runs r WHERE {sql}", tuple(params)),
            (page_sql, page_params))
        return _array((r["doc"], r["sealed"]) for r in rows), counted[0]["n"]
    return store.read(_read_page, owner, where, sql, params, cursor, limit, offset)


def _where(owner: str, f: RunFilter) -> tuple[str, list]:
    where, params = "r.owner = ?", [owner]
    if f.status:
        where += " AND r.status = ?"
        params.append(f.status)
    if f.id_prefix:  # a range on the primary key: ids are lowercase hex and '-', all below '~'
        where += " AND r.id >= ? AND r.id < ?"
        params += [f.id_prefix, f.id_prefix + "~"]
    if f.template:
        where += " AND r.template_id IN (SELECT id FROM templates WHERE name = ?)"
        params.append(f.template)
    if f.schedule:
        where += " AND r.schedule_id = ?"
        params.append(f.schedule)
    if f.since:  # a range of the (owner, created_at) index
        where += " AND r.created_at >= ?"
        params.append(f.since)
    return where, params


def _page(where: str, params: list, cursor: list | None, limit: int,
          offset: int) -> tuple[str, tuple]:
    if cursor is not None:  # the total stays the filter's: the cursor only moves the page
        where += " AND (r.created_at, r.rowid) < (?, ?)"
        params = [*params, *cursor]
    return (f"SELECT {RUN_JSON} AS doc, instr(r.input, '{SEALED_PREFIX}') AS sealed FROM runs r"
            f" JOIN templates t ON t.id = r.template_id WHERE {where}"
            " ORDER BY r.created_at DESC, r.rowid DESC LIMIT ? OFFSET ?",
            (*params, limit, offset))


def _read_page(conn: sqlite3.Connection, owner: str, f: RunFilter, where: str, params: list,
               cursor: list | None, limit: int, offset: int) -> tuple[str, int]:
    if f.counted:  # an id prefix: a handful of rows at most, counted as they are
        (total,) = conn.execute(f"SELECT COUNT(*) FROM runs r WHERE {where}", params).fetchone()
    else:  # kept by triggers (migration 6): no count grows with the owner's runs
        (total,) = conn.execute("SELECT COALESCE(SUM(n), 0) FROM run_counts WHERE owner = ?"
                                + (" AND status = ?" if f.status else ""), params).fetchone()
    return _array(conn.execute(*_page(where, params, cursor, limit, offset))), total


def _array(rows) -> str:
    return "[" + ",".join(_unsealed(text) if sealed else text for text, sealed in rows) + "]"


def _json_object(fields: list[tuple[str, str, str]]) -> str:
    """An SQL expression for one JSON object: ``(key, expr, kind)`` per member, where kind
    is ``q`` (quote a value or NULL), ``n`` (an integer, never NULL) or ``j`` (JSON text)."""
    parts = []
    for n, (key, expr, kind) in enumerate(fields):
        value = f"json_quote({expr})" if kind == "q" else expr
        parts.append(f"'{',' if n else '{'}\"{key}\":'||{value}")
    return "||".join(parts) + "||'}'"


# ops_concurrency.queued_behind in SQL: a waiting run's group, place in line and holders.
_IN_GROUP = ("concurrency_group = r.concurrency_group"
             " AND status NOT IN ('completed', 'failed', 'cancelled')")
QUEUED_BEHIND = (
    "CASE WHEN r.concurrency_queued = 1 AND r.status IN ('pending', 'paused') THEN"
    " json_object('key', r.concurrency_key, 'limit', r.concurrency_limit, 'position',"
    f" 1 + (SELECT COUNT(*) FROM runs WHERE {_IN_GROUP} AND concurrency_queued = 1"
    " AND status IN ('pending', 'paused') AND concurrency_seq < r.concurrency_seq),"
    f" 'running', json((SELECT json_group_array(id) FROM (SELECT id FROM runs WHERE {_IN_GROUP}"
    f" AND concurrency_queued = 0 ORDER BY concurrency_seq LIMIT {MAX_SHOWN}) AS held)))"
    " ELSE 'null' END")


# A run as the Run model dumps it (no details), built by SQLite: no row becomes Python
# objects only to be serialised again. ``input`` is the daemon's own JSON, spliced as is.
RUN_JSON = _json_object([
    ("id", "r.id", "q"), ("status", "r.status", "q"),
    ("template", _json_object([("id", "t.id", "q"), ("name", "t.name", "q"),
                               ("version", "t.version", "n")]), "j"),
    ("trigger_type", "r.trigger_type", "q"), ("parent_run_id", "r.parent_run_id", "q"),
    ("parent_step", "r.parent_step", "q"), ("schedule_id", "r.schedule_id", "q"),
    ("scheduled_for", "r.scheduled_for", "q"),
    ("input", "r.input", "j"), ("owner", "r.owner", "q"),
    ("reason", "r.reason", "q"), ("current_step", "r.current_step", "n"),
    ("current_step_name", CURRENT_STEP_NAME, "q"), ("current_steps", "'null'", "j"),
    ("created_at", "r.created_at", "q"), ("started_at", "r.started_at", "q"),
    ("finished_at", "r.finished_at", "q"), ("updated_at", "r.updated_at", "q"),
    ("steps", "'null'", "j"), ("events", "'null'", "j"), ("approvals", "'null'", "j"),
    ("handlers", "'null'", "j"), ("callback_secret", "'null'", "j"),
    ("queued_behind", QUEUED_BEHIND, "j"),
])


def _cursor(conn: sqlite3.Connection, owner: str, run_id: str) -> list:
    if not is_uuid(run_id):
        raise ValidationFailed("invalid query parameters", [
            {"path": "before", "message": "must be a run id"}])
    row = conn.execute("SELECT created_at, rowid FROM runs WHERE id = ? AND owner = ?",
                       (run_id.lower(), owner)).fetchone()
    if row is None:  # another user's run is unknown here too
        raise NotFound(f"run {run_id} not found (before=)")
    return list(row)


def _unsealed(text: str) -> str:
    """The rare run with a sealed input: show it as the API always does (``***``)."""
    run = loads(text)
    run["input"] = hide_sealed(run["input"])
    return dumps(run)
