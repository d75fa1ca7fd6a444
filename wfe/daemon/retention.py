"""Retention: delete ended runs once older than their retention, off the hot path.

A background loop (started by the supervisor) looks every ``retention_interval`` seconds
for top-level runs that finished longer ago than their template's ``retention`` (or the
daemon's), and deletes them in batches of ``retention_batch``, each batch one write of its
own so that Runners' commits go in between, each followed by an incremental vacuum. Log
files go once their run's deletion is committed; a crash in between leaves a directory that
the next start removes, as the run's deletion is on record.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import time
from collections.abc import Iterable
from pathlib import Path

from wfe.config import Settings
from wfe.daemon.store import Store, ops_delete, queries
from wfe.engine.retention import retention_seconds

log = logging.getLogger("wfe.retention")
# Between two batches the writer is left alone a moment: Runners' commits go first, and
# the checkpointer (a PASSIVE checkpoint every 0.2 s) catches up, so the WAL is reset
# rather than grown by a long backlog of deletions written back to back.
BATCH_PAUSE = 0.25
MAX_HELD = 1000  # held runs passed over in one pass (they are tried again at the next)


async def remove_logs(logs_dir: Path, run_ids: Iterable[str]) -> None:
    """The runs' log directories (each run's logs live under logs_dir/RUN_ID)."""
    dirs = [logs_dir / run_id for run_id in run_ids if queries.is_uuid(run_id)]
    if dirs:
        await asyncio.to_thread(_rmtree_all, dirs)


def _rmtree_all(dirs: list[Path]) -> None:
    for path in dirs:
        shutil.rmtree(path, ignore_errors=True)


async def vacuum(store: Store) -> None:
    """Give freed pages back; the deletion before it stands whether or not this works."""
    try:
        await store.write(ops_delete.vacuum)
    except Exception as exc:  # a full disk, say: the pages are reused by later writes
        log.warning("incremental vacuum failed: %s", exc)


async def loop(store: Store, settings: Settings, logs_dir: Path) -> None:
    await remove_orphan_logs(store, logs_dir)
    while True:
        n = await sweep(store, settings, logs_dir)
        if n:
            log.info("retention deleted %d runs", n)
        await asyncio.sleep(settings.retention_interval)


async def sweep(store: Store, settings: Settings, logs_dir: Path) -> int:
    """One pass: batch after batch until no expired run is left. Returns runs deleted."""
    default = retention_seconds(settings.retention)
    batch, total = settings.retention_batch, 0
    held: set[str] = set()  # expired, but not deletable yet (a child run still going)
    while True:
        ids = store.read(ops_delete.expired_runs, time.time(), default, batch, held)
        if not ids:
            return total
        deleted = await store.write(ops_delete.delete_expired, ids)
        await remove_logs(logs_dir, deleted)
        await vacuum(store)
        total += len(deleted)
        held |= set(ids) - set(deleted)
        if len(ids) < batch or len(held) > MAX_HELD:
            return total
        await asyncio.sleep(BATCH_PAUSE)


async def remove_orphan_logs(store: Store, logs_dir: Path) -> None:
    """Log directories of runs whose deletion is on record (left by a crash after the
    deletion's commit): never a directory of a run that exists or was never deleted."""
    try:
        names = await asyncio.to_thread(os.listdir, logs_dir)
    except OSError:
        return
    names = [n for n in names if queries.is_uuid(n)]
    gone: list[str] = []
    for i in range(0, len(names), 500):  # in slices: many directories must not stall the loop
        gone += store.read(ops_delete.deleted_runs, names[i:i + 500])
        await asyncio.sleep(0)
    if gone:
        log.info("removing the logs of %d deleted runs", len(gone))
        await remove_logs(logs_dir, gone)

