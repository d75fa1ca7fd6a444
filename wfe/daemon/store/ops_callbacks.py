"""Inbound callbacks: an external system finishes a step by POSTing to its URL.

Each callback step gets its token when the run is created. The token is an HMAC of the
run id and step name under a key kept in the database, so the daemon can rebuild the URL
for expressions at any time while storing only the token's SHA-256. A callback that
arrives before the run reaches its step is kept and consumed when the step starts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import sqlite3
import time

from wfe.daemon.store.util import SYSTEM, add_event, dumps, loads, now_iso
from wfe.engine.states import RunStatus
from wfe.errors import Conflict, NotFound

TOKEN_PREFIX = "wfc_"  # noqa: S105 -- a public marker, not a secret


def callback_key(conn: sqlite3.Connection) -> bytes:
    row = conn.execute("SELECT value FROM meta WHERE key = 'callback_key'").fetchone()
    if row is None:
        key = secrets.token_hex(32)
        conn.execute("INSERT INTO meta (key, value) VALUES ('callback_key', ?)", (key,))
        return bytes.fromhex(key)
    return bytes.fromhex(row[0])


def make_token(key: bytes, run_id: str, step: str) -> str:
    mac = hmac.new(key, f"{run_id}:{step}".encode(), hashlib.sha256).digest()
    return TOKEN_PREFIX + base64.urlsafe_b64encode(mac).decode().rstrip("=")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def register(conn: sqlite3.Connection, key: bytes, run_id: str,
             steps: list[tuple[int, str]]) -> None:
    now = now_iso()
    conn.executemany(
        "INSERT INTO callbacks (token_hash, run_id, idx, step, status, created_at)"
        " VALUES (?,?,?,?,'open',?)",
        [(token_hash(make_token(key, run_id, name)), run_id, idx, name, now)
         for idx, name in steps])


def receive(conn: sqlite3.Connection, digest: str, payload) -> str | None:
    """Keep a callback's payload; returns the run id when its Runner should be woken."""
    cb = conn.execute("SELECT * FROM callbacks WHERE token_hash = ?", (digest,)).fetchone()
    if cb is None:
        raise NotFound("unknown callback")
    if cb["status"] != "open":
        raise Conflict("this callback was already used", {"status": cb["status"]})
    run = conn.execute("SELECT status FROM runs WHERE id = ?", (cb["run_id"],)).fetchone()
    if RunStatus(run["status"]).terminal:
        raise Conflict(f"the run is {run['status']}", {"status": run["status"]})
    conn.execute("UPDATE callbacks SET status = 'received', payload = ?, received_at = ?"
                 " WHERE token_hash = ?", (dumps(payload), now_iso(), digest))
    add_event(conn, cb["run_id"], "callback.received", SYSTEM, {"step": cb["step"]})
    step = conn.execute("SELECT status FROM steps WHERE run_id = ? AND idx = ?",
                        (cb["run_id"], cb["idx"])).fetchone()
    if step["status"] == "waiting" and run["status"] == RunStatus.RUNNING:
        conn.execute("UPDATE runs SET wake_at = ? WHERE id = ?", (time.time(), cb["run_id"]))
        return cb["run_id"]
    return None


def digest_for_step(conn: sqlite3.Connection, run_id: str, owner: str, step: str) -> str:
    row = conn.execute(
        "SELECT c.token_hash FROM callbacks c JOIN runs r ON r.id = c.run_id"
        " WHERE c.run_id = ? AND r.owner = ? AND c.step = ?", (run_id, owner, step)).fetchone()
    if row is None:
        raise NotFound(f"run {run_id} has no callback step {step!r}")
    return row[0]


def await_callback(conn: sqlite3.Connection, run_id: str, idx: int, name: str, epoch: int,
                   timeout: float) -> dict | None:
    """Start waiting at a callback step. ``{"attempt", "payload"?}``; None if not running."""
    from wfe.daemon.store.ops_steps import start_step

    deadline = time.time() + timeout
    attempt = start_step(conn, run_id, idx, name, epoch, deadline)
    if attempt is None:
        return None
    # A payload consumed by an earlier, failed attempt must not finish this one: re-arm.
    conn.execute("UPDATE callbacks SET status = 'open', payload = NULL WHERE run_id = ?"
                 " AND idx = ? AND status = 'consumed'", (run_id, idx))
    out: dict = {"attempt": attempt, "deadline": deadline}
    payload = take(conn, run_id, idx)
    if payload is not None:
        out["payload"] = payload
    return out


def take(conn: sqlite3.Connection, run_id: str, idx: int) -> dict | None:
    """Consume a received payload: ``{"value": payload}``, or None when none has come."""
    row = conn.execute("SELECT payload FROM callbacks WHERE run_id = ? AND idx = ?"
                       " AND status = 'received'", (run_id, idx)).fetchone()
    if row is None:
        return None
    conn.execute("UPDATE callbacks SET status = 'consumed' WHERE run_id = ? AND idx = ?",
                 (run_id, idx))
    return {"value": loads(row[0])}


def outcome(payload) -> dict:
    """A callback's payload as a step result: ``{"status": "failure"}`` fails the step."""
    if isinstance(payload, dict) and payload.get("status") == "failure":
        error = payload.get("error") or "the callback reported failure"
        return {"status": "failed", "error": str(error)}
    output = payload if isinstance(payload, dict) else {"value": payload}
    return {"status": "succeeded", "output": output}
