"""Users and tokens. Only a SHA-256 of each token is ever stored."""

from __future__ import annotations

import hashlib
import secrets
import sqlite3

from wfe.daemon.store.util import new_id, now_iso
from wfe.errors import Conflict, NotFound

TOKEN_PREFIX = "wfe_"  # noqa: S105 -- a public marker, not a secret


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)  # 256 random bits


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


USER_COLUMNS = "id, name, role, created_at"


def create_user(conn: sqlite3.Connection, name: str, role: str) -> tuple[dict, str]:
    taken = conn.execute("SELECT removed_at FROM users WHERE name = ?", (name,)).fetchone()
    if taken is not None:
        why = " (removed; their runs still bear the name)" if taken["removed_at"] else ""
        raise Conflict(f"user {name!r} already exists{why}", {"name": name})
    user = {"id": new_id(), "name": name, "role": role, "created_at": now_iso()}
    conn.execute("INSERT INTO users (id, name, role, created_at) VALUES (?,?,?,?)",
                 (user["id"], name, role, user["created_at"]))
    token = new_token()
    insert_token(conn, user["id"], token, "default")
    return user, token


def find_user(conn: sqlite3.Connection, ref: str) -> dict:
    """A current user by id or name; a removed one is not found."""
    row = conn.execute(f"SELECT {USER_COLUMNS} FROM users WHERE (id = lower(?1) OR name = ?1)"
                       " AND removed_at IS NULL ORDER BY (id = lower(?1)) DESC LIMIT 1",
                       (ref,)).fetchone()
    if row is None:
        raise NotFound(f"user {ref} not found")
    return dict(row)


def _keep_an_admin(conn: sqlite3.Connection, user: dict, actor_id: str, verb: str) -> None:
    if user["id"] == actor_id:
        raise Conflict(f"you cannot {verb} yourself; ask another admin", {"user": user["name"]})
    if user["role"] == "admin":
        (admins,) = conn.execute("SELECT COUNT(*) FROM users WHERE role = 'admin'"
                                 " AND removed_at IS NULL").fetchone()
        if admins <= 1:
            raise Conflict("the daemon would have no admin left", {"user": user["name"]})


def set_role(conn: sqlite3.Connection, ref: str, role: str, actor_id: str) -> dict:
    user = find_user(conn, ref)
    if user["role"] != role:
        _keep_an_admin(conn, user, actor_id, "change the role of")
        conn.execute("UPDATE users SET role = ? WHERE id = ?", (role, user["id"]))
    return {**user, "role": role}


def remove_user(conn: sqlite3.Connection, ref: str, actor_id: str) -> dict:
    """Revoke every token of the user and retire the name; their runs stay as they are."""
    user = find_user(conn, ref)
    _keep_an_admin(conn, user, actor_id, "remove")
    at = now_iso()
    conn.execute("UPDATE tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL",
                 (at, user["id"]))
    conn.execute("UPDATE users SET removed_at = ? WHERE id = ?", (at, user["id"]))
    return user


def insert_token(conn: sqlite3.Connection, user_id: str, token: str, name: str) -> str:
    token_id = new_id()
    conn.execute(
        "INSERT INTO tokens (id, user_id, name, hash, created_at) VALUES (?,?,?,?,?)",
        (token_id, user_id, name, hash_token(token), now_iso()),
    )
    return token_id


def bootstrap_admin(conn: sqlite3.Connection, name: str) -> str | None:
    """At first start: the local admin and its token. None when users already exist."""
    if conn.execute("SELECT 1 FROM users LIMIT 1").fetchone():
        return None
    _, token = create_user(conn, name, "admin")
    return token


def reset_admin_token(conn: sqlite3.Connection, name: str) -> str:
    """A fresh token for the admin when the token file was lost (the hash can't be reversed)."""
    row = conn.execute(
        "SELECT id FROM users WHERE role = 'admin' AND removed_at IS NULL"
        " ORDER BY (name = ?) DESC, created_at LIMIT 1",
        (name,),
    ).fetchone()
    token = new_token()
    insert_token(conn, row["id"], token, "local")
    return token


def create_token(conn: sqlite3.Connection, user_id: str, name: str) -> tuple[dict, str]:
    """Another token for a user; the token itself is returned once and never stored."""
    token = new_token()
    token_id = insert_token(conn, user_id, token, name)
    row = conn.execute("SELECT id, name, created_at, revoked_at FROM tokens WHERE id = ?",
                       (token_id,)).fetchone()
    return dict(row), token


def revoke_token(conn: sqlite3.Connection, user_id: str, token_id: str) -> dict:
    """Revoke one of the user's tokens (again is a no-op); someone else's is not found."""
    row = conn.execute("SELECT id, name, created_at, revoked_at FROM tokens"
                       " WHERE id = ? AND user_id = ?", (token_id, user_id)).fetchone()
    if row is None:
        raise NotFound(f"token {token_id} not found")
    if row["revoked_at"] is None:
        conn.execute("UPDATE tokens SET revoked_at = ? WHERE id = ?", (now_iso(), token_id))
        row = conn.execute("SELECT id, name, created_at, revoked_at FROM tokens WHERE id = ?",
                           (token_id,)).fetchone()
    return dict(row)
