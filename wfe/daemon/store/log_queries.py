"""What the live log stream reads: a step's (or a foreach item's) attempts, in order, and
whether another one may still come."""

from __future__ import annotations

from wfe.daemon.store import Store

OVER = ("completed", "failed", "cancelled")  # a run in one of these starts no attempt
# A step or item in one of these may still start an attempt (a retry waits as pending).
OPEN = ("pending", "running", "waiting")


async def step_index(store: Store, run_id: str, name: str) -> int | None:
    return await store.scalar("SELECT idx FROM steps WHERE run_id = ? AND name = ?",
                              (run_id, name))


async def attempt(store: Store, run_id: str, idx: int, item: int | None,
                  number: int | None = None, after: int | None = None) -> dict | None:
    """An attempt's row (attempt, status, log_path): ``number`` exactly; else the first one
    after ``after``; else the latest."""
    if item is None:
        sql = ("SELECT attempt, status, log_path FROM step_attempts WHERE run_id = ?"
               " AND idx = ?")
        args: tuple = (run_id, idx)
    else:
        sql = ("SELECT attempt, status, log_path FROM item_attempts WHERE run_id = ?"
               " AND idx = ? AND item = ?")
        args = (run_id, idx, item)
    if number is not None:
        return await store.one(sql + " AND attempt = ?", (*args, number))
    if after is not None:
        return await store.one(sql + " AND attempt > ? ORDER BY attempt LIMIT 1",
                               (*args, after))
    return await store.one(sql + " ORDER BY attempt DESC LIMIT 1", args)


async def may_run_again(store: Store, run_id: str, idx: int, item: int | None) -> bool:
    """Whether the step (or item) may still start an attempt: it is pending (not started,
    or a retry is scheduled) or running, and its run is not over. An item whose list was
    not evaluated yet goes by its step."""
    row = await store.one(
        "SELECT r.status AS run, s.status AS step, i.status AS item FROM runs r"
        " JOIN steps s ON s.run_id = r.id AND s.idx = ?"
        " LEFT JOIN step_items i ON i.run_id = r.id AND i.idx = s.idx AND i.item = ?"
        " WHERE r.id = ?", (idx, -1 if item is None else item, run_id))
    if row is None or row["run"] in OVER:
        return False
    return (row["item"] or row["step"]) in OPEN
