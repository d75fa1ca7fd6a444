"""Template versions: drafts, then published and immutable."""

from __future__ import annotations

import sqlite3

from wfe.daemon.store.util import dumps, new_id, now_iso
from wfe.errors import Conflict, NotFound


def create_template(conn: sqlite3.Connection, owner: str, is_admin: bool, spec: dict) -> str:
    """A new draft version of the named template. A name is its first author's: others
    (admins aside) cannot add versions that everyone running NAME would then get."""
    name = spec["name"]
    latest, first_owner = conn.execute(
        "SELECT MAX(version), (SELECT owner FROM templates WHERE name = ?1 ORDER BY version"
        " LIMIT 1) FROM templates WHERE name = ?1", (name,)).fetchone()
    if first_owner is not None and first_owner != owner and not is_admin:
        raise Conflict(f"the template name {name!r} belongs to another user; choose another name",
                       {"name": name})
    latest = latest or 0
    template_id = new_id()
    conn.execute(
        "INSERT INTO templates (id, name, version, status, description, spec, owner, created_at)"
        " VALUES (?,?,?,?,?,?,?,?)",
        (template_id, name, latest + 1, "draft", spec.get("description") or "", dumps(spec),
         owner, now_iso()),
    )
    return template_id


def publish_template(conn: sqlite3.Connection, template_id: str) -> None:
    row = conn.execute("SELECT status, name, version FROM templates WHERE id = ?",
                       (template_id,)).fetchone()
    if row is None:
        raise NotFound("template not found")
    if row["status"] != "draft":
        raise Conflict(
            f"template {row['name']}@{row['version']} is already {row['status']}; "
            "create a new version to change it",
            {"status": row["status"]},
        )
    conn.execute("UPDATE templates SET status = 'published', published_at = ? WHERE id = ?",
                 (now_iso(), template_id))


def delete_template(conn: sqlite3.Connection, template_id: str) -> None:
    """A draft goes; a published version is archived instead, since runs keep pointing at
    it: no new run starts from it, and the runs it made still show what they ran."""
    row = conn.execute("SELECT status FROM templates WHERE id = ?", (template_id,)).fetchone()
    if row is None:
        raise NotFound("template not found")
    if row["status"] == "draft":
        conn.execute("DELETE FROM templates WHERE id = ?", (template_id,))
    elif row["status"] == "published":
        conn.execute("UPDATE templates SET status = 'archived' WHERE id = ?", (template_id,))
