"""What the API reads of foreach steps' items: progress, the item list, an item's log."""

from __future__ import annotations

import sqlite3

from wfe.daemon.store import Store
from wfe.daemon.store.util import loads


def item_progress(conn: sqlite3.Connection, run_id: str) -> dict[int, dict]:
    """Per foreach step (by index) whose list was evaluated: how its items stand."""
    rows = conn.execute(
        "SELECT idx, COUNT(*) AS total, SUM(status = 'succeeded') AS succeeded,"
        " SUM(status = 'failed') AS failed, SUM(status = 'running') AS running"
        " FROM step_items WHERE run_id = ? GROUP BY idx", (run_id,)).fetchall()
    progress = {r["idx"]: dict(r) for r in rows}
    for r in progress.values():
        del r["idx"]
    # An empty list has no items: its event says it was evaluated.
    for (idx,) in conn.execute(
            "SELECT CAST(json_extract(data, '$.index') AS INTEGER) FROM events WHERE run_id = ?"
            " AND type = 'step.items' AND CAST(json_extract(data, '$.total') AS INTEGER) = 0",
            (run_id,)):
        progress.setdefault(idx, {"total": 0, "succeeded": 0, "failed": 0, "running": 0})
    return progress


def _list_items(conn: sqlite3.Connection, run_id: str, step: str, limit: int,
                offset: int) -> tuple[list[dict], int] | None:
    found = conn.execute("SELECT idx FROM steps WHERE run_id = ? AND name = ?",
                         (run_id, step)).fetchone()
    if found is None:
        return None
    (total,) = conn.execute("SELECT COUNT(*) FROM step_items WHERE run_id = ? AND idx = ?",
                            (run_id, found[0])).fetchone()
    rows = conn.execute(
        "SELECT item AS \"index\", value AS item, status, attempt, output, error, exit_code,"
        " started_at, finished_at FROM step_items WHERE run_id = ? AND idx = ?"
        " ORDER BY item LIMIT ? OFFSET ?", (run_id, found[0], limit, offset)).fetchall()
    items = [dict(r) for r in rows]
    for r in items:
        r["item"], r["output"] = loads(r["item"]), loads(r["output"])
    return items, total


async def list_items(store: Store, run_id: str, step: str, limit: int,
                     offset: int) -> tuple[list[dict], int] | None:
    """A page of the step's items; None when the run has no such step."""
    return store.read(_list_items, run_id, step, limit, offset)


async def item_log(store: Store, run_id: str, step: str, item: int,
                   attempt: int | None) -> dict | None:
    """An item attempt's log file (the item's latest attempt unless one is named)."""
    sql = ("SELECT a.attempt, a.log_path FROM item_attempts a JOIN steps s ON"
           " s.run_id = a.run_id AND s.idx = a.idx WHERE a.run_id = ? AND s.name = ?"
           " AND a.item = ?")
    if attempt is None:
        return await store.one(sql + " ORDER BY a.attempt DESC LIMIT 1", (run_id, step, item))
    return await store.one(sql + " AND a.attempt = ?", (run_id, step, item, attempt))
