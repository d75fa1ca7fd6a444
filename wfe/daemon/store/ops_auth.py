"""Users and tokens. Only a SHA-256 of each token is ever stored."""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
from typing import Any

from wfe.errors import Conflict, NotFound
from wfe.daemon.store.util import new_id, now_iso

TOKEN_PREFIX = "wfe_"


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)  # 256 random bits


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_user(conn: sqlite3.Connection, name: str, is_admin: bool) -> tuple[dict, str]:
    if conn.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
        raise Conflict(f"user {name!r} already exists")
    user: dict[str, Any] = {"id": new_id(), "name": name, "is_admin": bool(is_admin), "created_at": now_iso()}
    conn.execute(
        "INSERT INTO users (id, name, is_admin, created_at) VALUES (?,?,?,?)",
        (user["id"], name, int(is_admin), user["created_at"]),
    )
    token = new_token()
    insert_token(conn, user["id"], token, "default")
    return user, token


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
    _, token = create_user(conn, name, True)
    return token


def reset_admin_token(conn: sqlite3.Connection, name: str) -> str:
    """A fresh token for the admin when the token file was lost (the hash can't be reversed)."""
    row = conn.execute(
        "SELECT id FROM users WHERE is_admin = 1 ORDER BY (name = ?) DESC, created_at LIMIT 1",
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
