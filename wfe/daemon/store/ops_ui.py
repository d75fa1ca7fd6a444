"""The web UI's sign-in: one-time codes and browser sessions.

Both are random secrets of which only a SHA-256 is stored, each tied to the API token that
made it: a session lasts while that token is unrevoked and its user not removed, so
revoking a user's tokens signs their browsers out too. A code is deleted as it is
exchanged (single use) and refused once expired; expired rows are pruned as new ones are
written.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import time
from typing import TYPE_CHECKING

from wfe.daemon.store.util import now_iso
from wfe.errors import Unauthorized

if TYPE_CHECKING:
    from wfe.daemon.store import Store

CODE_PREFIX = "wfc1_"
SESSION_PREFIX = "wfs_"
_LIVE_JOIN = ("JOIN tokens t ON t.id = s.token_id JOIN users u ON u.id = t.user_id"
               " WHERE t.revoked_at IS NULL AND u.removed_at IS NULL")


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _insert(conn: sqlite3.Connection, kind: str, token_id: str, ttl: float) -> str:
    now = time.time()
    conn.execute("DELETE FROM ui_sessions WHERE expires_at <= ?", (now,))
    secret = (CODE_PREFIX if kind == "code" else SESSION_PREFIX) + secrets.token_urlsafe(32)
    conn.execute("INSERT INTO ui_sessions (hash, kind, token_id, created_at, expires_at)"
                 " VALUES (?,?,?,?,?)", (digest(secret), kind, token_id, now_iso(now),
                                         now + ttl))
    return secret


def _token_id(conn: sqlite3.Connection, token_hash: str) -> str:
    row = conn.execute("SELECT t.id FROM tokens t JOIN users u ON u.id = t.user_id"
                       " WHERE t.hash = ? AND t.revoked_at IS NULL AND u.removed_at IS NULL",
                       (token_hash,)).fetchone()
    if row is None:
        raise Unauthorized("the token is not valid")
    return str(row["id"])


def create_ui_code(conn: sqlite3.Connection, token_hash: str, ttl: float) -> tuple[str, float]:
    """A one-time sign-in code for the token's user, and when it expires (epoch seconds)."""
    return _insert(conn, "code", _token_id(conn, token_hash), ttl), time.time() + ttl


def session_from_token(conn: sqlite3.Connection, token_hash: str, ttl: float) -> str:
    """A session for a pasted token (the sign-in page's other way in)."""
    return _insert(conn, "session", _token_id(conn, token_hash), ttl)


def exchange_ui_code(conn: sqlite3.Connection, code: str, ttl: float) -> str:
    """The session a code is worth, once: a valid code is deleted as it is exchanged."""
    row = conn.execute(f"SELECT s.token_id, s.expires_at FROM ui_sessions s {_LIVE_JOIN}"
                       " AND s.hash = ? AND s.kind = 'code'", (digest(code),)).fetchone()
    conn.execute("DELETE FROM ui_sessions WHERE hash = ? AND kind = 'code'", (digest(code),))
    if row is None or row["expires_at"] <= time.time():
        raise Unauthorized("the sign-in code is not valid (used, expired or unknown):"
                           " run `wfe ui` again")
    return _insert(conn, "session", str(row["token_id"]), ttl)


def end_ui_session(conn: sqlite3.Connection, session: str) -> None:
    conn.execute("DELETE FROM ui_sessions WHERE hash = ? AND kind = 'session'",
                 (digest(session),))


async def session_user(store: Store, session: str) -> dict | None:
    """The user of a live session (its token unrevoked, its user not removed), else None."""
    return await store.one(
        f"SELECT u.id, u.name, u.role, u.created_at, t.hash AS token_hash FROM ui_sessions s"
        f" {_LIVE_JOIN} AND s.hash = ? AND s.kind = 'session' AND s.expires_at > ?",
        (digest(session), time.time()))
