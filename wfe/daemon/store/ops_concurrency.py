"""Concurrency groups' slots: who holds them, who waits, and admitting a run.

A run of a template with ``concurrency`` holds a slot of its group from its admission
until it ends, paused or waiting at a gate included. Ending frees the slot in the same
transaction (the runs_concurrency_free trigger admits the next waiting runs), so counting
and admitting in the single writer cannot give the last slot twice. What to do when the
group is full is the engine's decision (wfe.engine.concurrency.decide).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from wfe.daemon.store.util import SYSTEM
from wfe.engine.concurrency import Admission, decide
from wfe.errors import ConcurrencyLimit

# The very terms of the runs_concurrency index's WHERE, so that SQLite uses it.
ACTIVE = ("concurrency_group = ? AND status NOT IN ('completed', 'failed', 'cancelled')")
MAX_SHOWN = 50  # slot holders named in a queued run's answer


def holders(conn: sqlite3.Connection, group: str) -> list[str]:
    """The runs holding the group's slots, oldest first."""
    return [r[0] for r in conn.execute(
        f"SELECT id FROM runs WHERE {ACTIVE} AND concurrency_queued = 0"
        " ORDER BY concurrency_seq", (group,))]


def _waiting(conn: sqlite3.Connection, group: str, before_seq: int | None = None,
             paused_too: bool = False) -> int:
    """Runs waiting for a slot (ahead of ``before_seq``); a paused one waits but is
    passed over by admission until it is resumed."""
    statuses = "('pending', 'paused')" if paused_too else "('pending')"
    sql = (f"SELECT COUNT(*) FROM runs WHERE {ACTIVE} AND concurrency_queued = 1"
           f" AND status IN {statuses}")
    args: tuple = (group,)
    if before_seq is not None:
        sql, args = sql + " AND concurrency_seq < ?", (group, before_seq)
    return conn.execute(sql, args).fetchone()[0]


def admit_new(conn: sqlite3.Connection, run_id: str, conc: dict[str, Any], template: str,
              displaced: list[str] | None) -> tuple[int, bool]:
    """Place a run about to be created in its group: ``(seq, queued)``. ConcurrencyLimit
    when the group is full and the template rejects; with cancel_oldest, the group's oldest
    runs are cancelled (their ids added to ``displaced``, whose Runners the caller stops)."""
    from wfe.daemon.store.ops_runs import cancel_run

    group, limit = conc["group"], conc["limit"]
    while True:
        holding = holders(conn, group)
        decision = decide(conc["on_conflict"], limit, len(holding), _waiting(conn, group))
        if decision is Admission.REJECT:
            raise ConcurrencyLimit(
                f"{len(holding)} run(s) of {template} with concurrency key {conc['key']!r}"
                f" are running, the limit is {limit} (on_conflict: reject)",
                {"template": template, "key": conc["key"], "limit": limit,
                 "running": holding[:MAX_SHOWN]})
        if decision is not Admission.CANCEL_OLDEST:
            break
        (oldest,) = conn.execute(f"SELECT id FROM runs WHERE {ACTIVE} ORDER BY concurrency_seq"
                                 " LIMIT 1", (group,)).fetchone()
        cancel_run(conn, oldest, None, SYSTEM,
                   f"cancelled to make room for run {run_id}: at most {limit} run(s) of"
                   f" {template} with concurrency key {conc['key']!r} at once"
                   " (on_conflict: cancel_oldest)")
        if displaced is not None:
            displaced.append(oldest)
    (last,) = conn.execute(f"SELECT MAX(concurrency_seq) FROM runs WHERE {ACTIVE}",
                           (group,)).fetchone()
    return (last or 0) + 1, decision is Admission.QUEUE


def try_admit(conn: sqlite3.Connection, run: sqlite3.Row) -> bool:
    """A waiting run was woken (resumed, or the daemon restarted): take a free slot if no
    run waits ahead of it. False: it waits on, with no timer."""
    group = run["concurrency_group"]
    if len(holders(conn, group)) >= run["concurrency_limit"] or _waiting(
            conn, group, run["concurrency_seq"]):
        conn.execute("UPDATE runs SET wake_at = NULL WHERE id = ?", (run["id"],))
        return False
    conn.execute("UPDATE runs SET concurrency_queued = 0 WHERE id = ?", (run["id"],))
    return True


def retake(conn: sqlite3.Connection, run: sqlite3.Row, action: str) -> None:
    """An ended run runs again (retry, rollback): it needs a slot now, and never jumps the
    runs waiting for one; ConcurrencyLimit (409) says to try again later."""
    group = run["concurrency_group"]
    if group is None or (run["status"] in ("running", "paused", "waiting_approval")
                         and not run["concurrency_queued"]):
        return  # no group, or it holds its slot still
    holding = [h for h in holders(conn, group) if h != run["id"]]
    if decide("reject", run["concurrency_limit"], len(holding),
              _waiting(conn, group)) is not Admission.ADMIT:
        raise ConcurrencyLimit(
            f"cannot {action} now: the run's concurrency group is full ({len(holding)} of"
            f" {run['concurrency_limit']} running) or has runs waiting; try again later",
            {"key": run["concurrency_key"], "limit": run["concurrency_limit"],
             "running": holding[:MAX_SHOWN]})
    conn.execute("UPDATE runs SET concurrency_queued = 0 WHERE id = ?", (run["id"],))


def queued_behind(conn: sqlite3.Connection, run_id: str) -> dict | None:
    """Why a run waits: its group's key and limit, its place in line (1: next), and the
    runs holding the slots. None when it does not wait for a slot."""
    run = conn.execute("SELECT status, concurrency_group, concurrency_key, concurrency_limit,"
                       " concurrency_seq, concurrency_queued FROM runs WHERE id = ?",
                       (run_id,)).fetchone()
    if (run is None or not run["concurrency_queued"]
            or run["status"] not in ("pending", "paused")):
        return None
    group = run["concurrency_group"]
    return {"key": run["concurrency_key"], "limit": run["concurrency_limit"],
            "position": _waiting(conn, group, run["concurrency_seq"], paused_too=True) + 1,
            "running": holders(conn, group)[:MAX_SHOWN]}
