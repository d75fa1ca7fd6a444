"""Stored secrets and variables, and the global audit log of their changes.

A row's scope is its owner's name, or ``''`` for the global scope. A secret's value is
sealed before it gets here (the store never sees it in clear) and never leaves through a
listing; a variable's value is plain text. Each change is recorded in ``global_events``
(names and actors only), as it belongs to no run.
"""

from __future__ import annotations

import sqlite3

from wfe.daemon.store import Store
from wfe.daemon.store.util import dumps, loads, now_iso
from wfe.errors import NotFound

GLOBAL = ""
KINDS = ("secret", "var")


def scope_label(scope: str) -> str:
    return "global" if scope == GLOBAL else "user"


def _view(row: dict) -> dict:
    out = {"name": row["name"], "scope": scope_label(row["scope"]),
           "owner": row["scope"] or None, "set_by": row["set_by"], "set_at": row["set_at"]}
    if row["kind"] == "var":
        out["value"] = row["value"]
    return out


def _audit(conn: sqlite3.Connection, type_: str, actor: str, scope: str, name: str) -> None:
    data = {"name": name, "scope": scope_label(scope), "owner": scope or None}
    conn.execute("INSERT INTO global_events (type, actor, data, created_at) VALUES (?,?,?,?)",
                 (type_, actor, dumps(data), now_iso()))


# ---- writes (run in the writer thread) --------------------------------------------------

def set_value(conn: sqlite3.Connection, kind: str, scope: str, name: str, value: str,
              actor: str) -> dict:
    """Create or replace; the answer names it, with a variable's value but never a secret's."""
    conn.execute(
        "INSERT INTO stored_values (kind, scope, name, value, set_by, set_at)"
        " VALUES (?,?,?,?,?,?) ON CONFLICT (kind, scope, name) DO UPDATE SET"
        " value = excluded.value, set_by = excluded.set_by, set_at = excluded.set_at",
        (kind, scope, name, value, actor, now_iso()))
    _audit(conn, f"{kind}.set", actor, scope, name)
    row = conn.execute("SELECT * FROM stored_values WHERE kind = ? AND scope = ? AND name = ?",
                       (kind, scope, name)).fetchone()
    return _view(dict(row))


def remove_value(conn: sqlite3.Connection, kind: str, scope: str, name: str,
                 actor: str) -> None:
    cur = conn.execute("DELETE FROM stored_values WHERE kind = ? AND scope = ? AND name = ?",
                       (kind, scope, name))
    if cur.rowcount == 0:
        raise NotFound(f"{kind} {name} not found", {"name": name, "scope": scope_label(scope)})
    _audit(conn, f"{kind}.removed", actor, scope, name)


# ---- reads ------------------------------------------------------------------------------

async def list_values(store: Store, kind: str, user: str, limit: int,
                      offset: int) -> tuple[list[dict], int]:
    """The caller's own and the global ones (another user's do not exist for them)."""
    where = "kind = ? AND scope IN (?, '')"
    rows = await store.all(f"SELECT * FROM stored_values WHERE {where}"
                           " ORDER BY name, scope DESC LIMIT ? OFFSET ?",
                           (kind, user, limit, offset))
    total = await store.scalar(f"SELECT COUNT(*) FROM stored_values WHERE {where}",
                               (kind, user))
    return [_view(r) for r in rows], total


async def values_for(store: Store, kind: str, owner: str, names: list[str]) -> dict[str, dict]:
    """``{name: {"scope", "value"}}`` for the names found: the owner's own, else global."""
    if not names:
        return {}
    marks = ",".join("?" * len(names))
    rows = await store.all(
        f"SELECT scope, name, value FROM stored_values WHERE kind = ? AND scope IN (?, '')"
        f" AND name IN ({marks})", (kind, owner, *names))
    found: dict[str, dict] = {}
    for row in sorted(rows, key=lambda r: r["scope"] != GLOBAL):  # the owner's last: it wins
        found[row["name"]] = {"scope": row["scope"], "value": row["value"]}
    return found


async def list_global_events(store: Store, actor: str | None, limit: int,
                             offset: int) -> tuple[list[dict], int]:
    """The audit log of secrets and variables: all of it, or one actor's (and their own
    scope's) entries."""
    where, params = ("1 = 1", ()) if actor is None else \
        ("actor = ? OR json_extract(data, '$.owner') = ?", (actor, actor))
    rows = await store.all(f"SELECT * FROM global_events WHERE {where}"
                           " ORDER BY seq DESC LIMIT ? OFFSET ?", (*params, limit, offset))
    total = await store.scalar(f"SELECT COUNT(*) FROM global_events WHERE {where}", params)
    return [{**r, "data": loads(r["data"])} for r in rows], total


async def run_template(store: Store, run_id: str) -> dict | None:
    """A run's owner and its template (to know which stored secrets it may have read)."""
    return await store.one("SELECT r.owner, r.template_id, t.spec FROM runs r JOIN templates t"
                           " ON t.id = r.template_id WHERE r.id = ?", (run_id,))
