"""Churn: the database stays compact while runs are created and deleted by the 100,000.

Runs are written through the daemon's own store (the single writer and its operations, in
this process, no HTTP: creating 100,000 runs over the API would measure the API). Each run
is a finished 3-step run with what a real one leaves: steps, attempts, a snapshot per step
and a hash-chained event log. ``keep`` runs are made first, finished now, and stay; then
the churn runs, finished two days ago, are made 10,000 at a time, and after each round
retention's own pass (``retention = "1d"``, default batches of 100 top-level runs, each
followed by an incremental vacuum, a pause between batches) deletes them. At the end the
file (after a WAL checkpoint) is set against a compact copy holding only the kept runs
(VACUUM INTO), and ``peak_mb`` is the largest the file (with its WAL) was after a round.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

from bench.sizes import Sizes
from wfe.config import Settings
from wfe.daemon import retention
from wfe.daemon.store import Store
from wfe.daemon.store.util import add_event, dumps, new_id, now_iso, ordered_id

BATCH = 1000  # runs made per write
ROUND = 10 * BATCH  # runs made between two retention passes
AGO = 2 * 86400.0  # the churn runs finished this long ago; retention is a day
STEPS = ("fetch", "build", "ship")


def _template(conn: sqlite3.Connection) -> str:
    tid, now = new_id(), now_iso()
    spec = {"name": "churn", "steps": [{"name": s, "run": "true"} for s in STEPS]}
    conn.execute("INSERT INTO templates (id, name, version, status, spec, owner, created_at,"
                 " published_at) VALUES (?, 'churn', 1, 'published', ?, 'bench', ?, ?)",
                 (tid, dumps(spec), now, now))
    return tid


def _finished_runs(conn: sqlite3.Connection, template_id: str, n: int,
                   ago: float = 0.0) -> list[str]:
    ids, finished = [], now_iso(time.time() - ago)
    for _ in range(n):
        run_id, now = new_id(), now_iso()
        conn.execute("INSERT INTO runs (id, owner, template_id, status, input, trigger_type,"
                     " created_at, started_at, updated_at) VALUES (?, 'bench', ?, 'running',"
                     " ?, 'api', ?, ?, ?)", (run_id, template_id, dumps({"n": 1}), now, now,
                                            now))
        add_event(conn, run_id, "run.created", "bench", {"template": "churn", "version": 1})
        for idx, name in enumerate(STEPS):
            conn.execute("INSERT INTO steps (run_id, idx, name, kind, status, attempt,"
                         " started_at, finished_at, output, log_tail) VALUES"
                         " (?, ?, ?, 'run', 'succeeded', 1, ?, ?, ?, ?)",
                         (run_id, idx, name, now, now, dumps({"ok": name}), "done\n"))
            conn.execute("INSERT INTO step_attempts (run_id, idx, attempt, status, epoch,"
                         " started_at, finished_at, exit_code, log_path) VALUES"
                         " (?, ?, 1, 'succeeded', 1, ?, ?, 0, ?)",
                         (run_id, idx, now, now, f"logs/{run_id}/{name}.1.log"))
            conn.execute("INSERT INTO snapshots (id, run_id, after_idx, step, state,"
                         " created_at) VALUES (?, ?, ?, ?, ?, ?)",
                         (ordered_id(), run_id, idx, name,
                          dumps({"outputs": {s: {"ok": s} for s in STEPS[:idx + 1]}}), now))
            add_event(conn, run_id, "step.started", "system", {"step": name, "attempt": 1})
            add_event(conn, run_id, "step.succeeded", "system", {"step": name, "attempt": 1})
        conn.execute("UPDATE runs SET status = 'completed', finished_at = ?, wake_at = NULL"
                     " WHERE id = ?", (finished, run_id))
        add_event(conn, run_id, "run.completed", "system", {})
        ids.append(run_id)
    return ids


async def _make(store: Store, template_id: str, n: int, ago: float = 0.0) -> list[str]:
    ids: list[str] = []
    while len(ids) < n:
        ids += await store.write(_finished_runs, template_id, min(BATCH, n - len(ids)), ago)
    return ids


def _on_disk(path: Path) -> int:
    return _size(path) + _size(path.with_name(path.name + "-wal"))


def _counts(conn: sqlite3.Connection) -> tuple[int, int]:
    (runs,) = conn.execute("SELECT COUNT(*) FROM runs").fetchone()
    (free,) = conn.execute("PRAGMA freelist_count").fetchone()
    return runs, free


def _checkpoint(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def _compact_size(path: Path) -> tuple[int, int]:
    """The size of the same data written afresh (VACUUM INTO a new file), and of that copy
    without the run.deleted records (what the audit trail of the deletions weighs)."""
    copy = path.with_name("compact.db")
    copy.unlink(missing_ok=True)
    conn = sqlite3.connect(path)
    conn.execute("VACUUM INTO ?", (str(copy),))
    conn.close()
    size = copy.stat().st_size
    conn = sqlite3.connect(copy, isolation_level=None)  # a scratch copy: its guard may go
    conn.execute("DROP TRIGGER global_events_no_delete")
    conn.execute("DELETE FROM global_events WHERE type = 'run.deleted'")
    conn.execute("VACUUM")
    conn.close()
    return size, copy.stat().st_size


async def run(workdir: Path, sz: Sizes) -> dict:
    home = workdir / "churn"
    home.mkdir(parents=True, exist_ok=True)
    path = home / "wfe.db"
    settings = Settings(retention="1d")
    store = Store(path)
    await store.open()
    peak, made, deleted, spent = 0, 0, 0, 0.0
    try:
        template_id = await store.write(_template)
        await _make(store, template_id, sz.churn_keep)
        while made < sz.churn_runs:
            made += len(await _make(store, template_id, min(ROUND, sz.churn_runs - made), AGO))
            t0 = time.monotonic()
            deleted += await retention.sweep(store, settings, home / "logs")
            spent += time.monotonic() - t0
            peak = max(peak, _on_disk(path))
        remaining, free = store.read(_counts)
    finally:
        await store.close()
    if deleted != made:
        raise RuntimeError(f"retention deleted {deleted} of {made} expired runs")
    _checkpoint(path)
    size, (compact, without_records) = path.stat().st_size, _compact_size(path)
    return {"median": {
        "runs_churned": made, "runs_kept": remaining, "file_mb": round(size / 2**20, 2),
        "compact_mb": round(compact / 2**20, 2), "ratio": round(size / compact, 3),
        "deletion_records_mb": round((compact - without_records) / 2**20, 2),
        "bytes_per_deletion_record": round((compact - without_records) / max(made, 1)),
        "peak_mb": round(peak / 2**20, 2), "free_pages": free,
        "retention_runs_deleted_per_s": round(deleted / spent),
        "wal_bytes": _size(path.with_name("wfe.db-wal"))}}


def _size(path: Path) -> int:
    return path.stat().st_size if os.path.exists(path) else 0
