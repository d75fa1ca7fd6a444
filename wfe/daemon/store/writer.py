"""The single writer: one thread, one connection, group commit.

Every state change in wfe is a function ``op(conn, *args)`` handed to the writer. The thread
takes everything queued, runs each op inside its own SAVEPOINT in one ``BEGIN IMMEDIATE``
transaction, commits once, then wakes every caller with one hop back to the event loop.
A failing op rolls back only itself. A caller's await returns only after its op is durable,
so nothing acts on a transition before it is committed.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from typing import Any

from wfe.daemon.store.checkpoint import Checkpointer
from wfe.daemon.store.util import is_full
from wfe.errors import StorageFull

log = logging.getLogger("wfe.store")

MAX_BATCH = 512
_STOP = object()


def connect(path: str, synchronous: str = "NORMAL") -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    # First: a new file takes it only before anything (WAL mode too) writes its header.
    conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=5000")
    # Checkpoints are the Checkpointer's; a WAL grown under load is cut back after it resets.
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute(f"PRAGMA journal_size_limit={64 * 1024 * 1024}")
    return conn


def ensure_incremental_vacuum(conn: sqlite3.Connection) -> None:
    """Deleted runs' pages go back to the file system (PRAGMA incremental_vacuum after each
    deletion), which needs auto_vacuum=INCREMENTAL. A new file gets it before its first
    table (see connect); a file made before it is rewritten once by VACUUM (at start,
    before serving; it needs about the file's size free). If that fails, the daemon still
    runs: deleted pages are then reused by later writes rather than given back."""
    (mode,) = conn.execute("PRAGMA auto_vacuum").fetchone()
    if mode == 2:  # a file made since, or already rewritten
        return
    conn.execute("PRAGMA auto_vacuum=INCREMENTAL")  # takes effect with the VACUUM
    log.warning("rewriting the database once for incremental vacuum (VACUUM)...")
    try:
        conn.execute("VACUUM")
    except sqlite3.Error as exc:
        log.warning("VACUUM failed (%s); deleted runs' space is reused, not given back", exc)
        return
    log.warning("database rewritten: auto_vacuum is incremental")


class Writer:
    def __init__(self, conn: sqlite3.Connection, checkpointer: Checkpointer | None = None,
                 retry_after: int = 1, before_commit: Callable[[], None] | None = None) -> None:
        self._conn = conn
        # While the disk is full: set by the writer thread, read anywhere (a plain bool).
        self.full = False
        self.retry_after = retry_after
        self._before_commit = before_commit  # fault injection (a "full disk") in tests
        self._checkpointer = checkpointer
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name="wfe-writer", daemon=True)
        self._loop_ref: asyncio.AbstractEventLoop | None = None
        self.batches = 0
        self.ops = 0
        self.max_batch = MAX_BATCH
        self._tick = asyncio.Event()  # binds to a loop only when awaited

    def start(self) -> None:
        self._loop_ref = asyncio.get_running_loop()
        self._tick = asyncio.Event()
        self._thread.start()

    async def wait_commit(self, timeout: float) -> bool:
        """Wait until the next batch is committed (streams use it to look for new events)."""
        # asyncio.timeout, not wait_for: on 3.11 wait_for loses a cancel that lands as the
        # wait completes, and a loop cancelled at shutdown would then never end.
        try:
            async with asyncio.timeout(timeout):
                await self._tick.wait()
        except TimeoutError:
            return False
        return True

    def tick(self) -> None:
        """Wake what waits for a commit (another node's, told by the cluster's listener)."""
        self._notify()

    def _notify(self) -> None:
        tick, self._tick = self._tick, asyncio.Event()
        tick.set()

    async def __call__(self, op: Callable[..., Any], *args: Any) -> Any:
        assert self._loop_ref is not None, "start() first"
        fut = self._loop_ref.create_future()
        self._queue.put((op, args, fut))
        return await fut

    async def close(self) -> None:
        self._queue.put(_STOP)
        await asyncio.to_thread(self._thread.join)
        if self._checkpointer is not None:
            await asyncio.to_thread(self._checkpointer.stop)
        self._conn.close()

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            batch = [item]
            stop = False
            while len(batch) < self.max_batch:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is _STOP:
                    stop = True
                    break
                batch.append(nxt)
            self._commit(batch)
            if stop:
                return

    def _commit(self, batch: list) -> None:
        try:
            outcomes = self._transaction(batch)
        except BaseException as exc:  # the commit itself failed: nobody's op is durable
            self._rollback()
            outcomes = [(fut, None, self._failed(exc)) for _, _, fut in batch]
        else:
            if self.full:
                self.full = False
                log.warning("the disk has space again; commits go on")
        self.batches += 1
        self.ops += len(batch)
        if self._checkpointer is not None:
            self._checkpointer.dirty()
        assert self._loop_ref is not None  # set by start(), before the thread runs
        self._loop_ref.call_soon_threadsafe(self._resolve, outcomes)

    def _transaction(self, batch: list) -> list[tuple[asyncio.Future, Any, BaseException | None]]:
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        outcomes = [(fut, *self._run_op(op, args)) for op, args, fut in batch]
        if self._before_commit is not None:
            self._before_commit()
        conn.execute("COMMIT")
        return outcomes

    def _rollback(self) -> None:
        try:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
        except Exception:  # the database may have rolled back already (SQLITE_FULL can)
            log.warning("rollback after a failed commit failed", exc_info=True)

    def _failed(self, exc: BaseException) -> BaseException:
        """What each caller of a failed batch gets: a full disk is StorageFull, said once."""
        if not is_full(exc):
            log.error("commit failed", exc_info=exc)
            return exc
        if not self.full:
            self.full = True
            log.warning("the disk is full; writes answer storage_full until it has space: %s",
                        exc)
        return StorageFull(details={"retry_after": self.retry_after})

    def _run_op(self, op, args) -> tuple[Any, BaseException | None]:
        conn = self._conn
        conn.execute("SAVEPOINT op")
        try:
            result = op(conn, *args)
        except BaseException as exc:
            if self._fatal(exc):  # the whole transaction may be gone: fail the batch
                raise
            conn.execute("ROLLBACK TO op")
            conn.execute("RELEASE op")
            if not isinstance(exc, Exception):
                raise
            return None, exc
        conn.execute("RELEASE op")
        return result, None

    def _fatal(self, exc: BaseException) -> bool:
        """Whether an op's error dooms its whole batch, not the op alone."""
        return is_full(exc)

    def _resolve(self, outcomes) -> None:
        for fut, result, exc in outcomes:
            if fut.done():  # the caller was cancelled; the op is committed all the same
                continue
            if exc is not None:
                fut.set_exception(exc)
            else:
                fut.set_result(result)
        self._notify()
