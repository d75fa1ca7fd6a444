"""The PostgreSQL store: the same interface as the SQLite one, for several daemons at once.

psycopg 3, not asyncpg: every state change in wfe is a plain function run by the writer
thread inside one group-commit transaction (writer.py); psycopg's synchronous connection runs
those same functions unchanged, where asyncpg would need each of them rewritten as a
coroutine and would commit on the event loop's thread.

Write transactions are REPEATABLE READ: when two nodes touch one row, the later commit fails
with a serialization error instead of acting on what it read before, and the whole batch is
run again on a fresh snapshot (its ops are functions of the database and their arguments).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg
from psycopg.pq import TransactionStatus

from wfe.daemon.store.pg import event_order, lease
from wfe.daemon.store.pg.dialect import Connection
from wfe.daemon.store.pg.schema import migrate
from wfe.daemon.store.writer import Writer
from wfe.errors import WfeError

T = TypeVar("T")


class DatabaseUnavailable(WfeError):
    """The PostgreSQL server did not answer, or refused this daemon."""

    code = "database_unavailable"
    http_status = 503
log = logging.getLogger("wfe.store")
RETRIES = 20
PG_MAX_BATCH = 64
_RETRYABLE = (psycopg.errors.SerializationFailure, psycopg.errors.DeadlockDetected)
RECONNECTS = 2


class Uncommitted(psycopg.OperationalError):
    """The connection failed before COMMIT was sent: nothing of the batch is durable, so it
    may run again on a new connection (a failure at COMMIT itself may have committed)."""


class _OpFailed(Exception):
    """An op failed in a batch run without savepoints: ``exc`` is what it raised."""

    def __init__(self, exc: Exception) -> None:
        super().__init__(str(exc))
        self.exc = exc


class PgWriter(Writer):
    def __init__(self, url: str, name: str, retry_after: int = 1,
                 before_commit: Callable[[], None] | None = None, node: str = "",
                 idle_timeout: float = 0) -> None:
        self._url, self._name = url, name
        self._idle_ms = int(idle_timeout * 1000)
        self._commit_note = f"commit * {node}"
        super().__init__(self._connect(), None, retry_after, before_commit)  # type: ignore[arg-type]
        self._thread.name = "wfe-writer-pg"
        self.conflicts = 0
        # Every statement is a round trip here: a short transaction holds its row locks
        # (and delays another node's claim or renewal) for less time.
        self.max_batch = PG_MAX_BATCH

    def _connect(self) -> Connection:
        conn = Connection.open(self._url, application_name=self._name)
        if self._idle_ms:
            # A node stopped inside a transaction (SIGSTOP, a VM paused) would hold its row
            # locks for good, and the node taking its runs over would wait on them for good:
            # the server ends such a session once it has been silent for a lease.
            conn.raw.execute(f"SET idle_in_transaction_session_timeout = {self._idle_ms}")
        return conn

    def _fatal(self, exc: BaseException) -> bool:
        return (isinstance(exc, (*_RETRYABLE, psycopg.OperationalError))
                or self._broken() or super()._fatal(exc))

    def _broken(self) -> bool:
        raw = self._conn.raw  # type: ignore[attr-defined]
        return bool(raw.broken or raw.closed)

    def _run_op(self, op, args):
        """As the base class, one round trip shorter: a savepoint is never released (each
        op's shadows the last; the transaction's end releases them all)."""
        conn: Connection = self._conn  # type: ignore[assignment]
        _forget_fences(conn, op)
        conn.raw.execute("SAVEPOINT op")
        try:
            return op(conn, *args), None
        except BaseException as exc:
            if self._fatal(exc) or not isinstance(exc, Exception):
                raise
            conn.raw.execute("ROLLBACK TO op")
            return None, exc

    def _run_plain(self, batch: list) -> list:
        """The batch's ops with no savepoints (a round trip each saved): almost every batch
        has no op that fails. One that does is _OpFailed: the caller undoes the whole
        transaction and runs the batch again, each op in its savepoint (ops are functions of
        the database and their arguments, as a retry after a conflict already needs)."""
        conn: Connection = self._conn  # type: ignore[assignment]
        outcomes = []
        for op, args, fut in batch:
            _forget_fences(conn, op)
            try:
                outcomes.append((fut, op(conn, *args), None))
            except Exception as exc:
                if self._fatal(exc):
                    raise
                raise _OpFailed(exc) from exc
        return outcomes

    def _once(self, batch: list):
        try:
            try:
                outcomes = self._uncommitted(batch, savepoints=False)
            except _OpFailed as failed:
                self._rollback()
                if len(batch) == 1:  # its transaction was its savepoint: nothing to run again
                    return [(batch[0][2], None, failed.exc)]
                outcomes = self._uncommitted(batch, savepoints=True)
        except psycopg.Error as exc:
            if isinstance(exc, _RETRYABLE) or not (
                    self._broken() or isinstance(exc, psycopg.OperationalError)):
                raise
            raise Uncommitted(str(exc).strip()) from exc
        self._conn.execute("COMMIT")
        return outcomes

    def _uncommitted(self, batch: list, savepoints: bool):
        conn: Connection = self._conn  # type: ignore[assignment]
        _begin(conn, lease.fenced_runs(batch))
        if savepoints:
            outcomes = [(fut, *self._run_op(op, args)) for op, args, fut in batch]
        else:
            outcomes = self._run_plain(batch)
        if self._before_commit is not None:
            self._before_commit()
        event_order.number(conn.raw)
        # Other nodes' live streams look for new events when this commit lands.
        conn.execute("SELECT pg_notify('wfe', ?)", (self._commit_note,))
        return outcomes

    def _transaction(self, batch: list):
        if len(batch) == 1:
            return self._retrying(batch, RETRIES)
        try:
            return self._retrying(batch, 1)
        except (*_RETRYABLE, Uncommitted):
            pass
        # A conflict with another node: each op in a transaction of its own, so a row
        # another node holds delays only the op that touches it, not a whole batch.
        outcomes = []
        for item in batch:
            try:
                outcomes += self._retrying([item], RETRIES)
            except Exception as exc:
                self._rollback()
                outcomes.append((item[2], None, self._failed(exc)))
        return outcomes

    def _retrying(self, batch: list, tries: int):
        for attempt in range(tries):
            if self._broken():
                self._reconnect()
            try:
                return self._once(batch)
            except _RETRYABLE:
                self.conflicts += 1
                self._rollback()
                if attempt == tries - 1:
                    raise
                time.sleep(random.uniform(0, 0.002 * 2 ** min(attempt, 6)))
            except Uncommitted:
                if attempt >= min(RECONNECTS, tries - 1):  # the server is gone: say so
                    raise
                log.warning("the database connection failed; reconnecting", exc_info=True)
                self._reconnect()
        raise AssertionError("unreachable")

    def _reconnect(self) -> None:
        with contextlib.suppress(Exception):  # a broken connection may refuse even to close
            self._conn.close()
        self._conn = self._connect()  # type: ignore[assignment]


class PgStore:
    """Reads run on the event loop's own connection (a server round trip, no thread hop);
    reads whose cost grows with the data go to a thread with its own connection."""

    dialect = "postgres"
    event_queries = event_order  # a user's stream follows the commit order (gseq)

    def __init__(self, url: str, node: str = "", retry_after: int = 1,
                 before_commit: Callable[[], None] | None = None,
                 lease_seconds: float = 0) -> None:
        self.url = url
        self.lease_seconds = lease_seconds
        self.node = node
        self.name = f"wfe {node}"
        self._writer_args = (retry_after, before_commit)
        self.write: PgWriter
        self._conn: Connection
        self._bg: Connection
        self._bg_lock = asyncio.Lock()
        self._claims: Connection
        self._claims_lock = asyncio.Lock()

    async def open(self) -> None:
        try:
            await asyncio.to_thread(self._open)
        except psycopg.OperationalError as exc:
            first = (str(exc).strip().splitlines() or [repr(exc)])[0]
            raise DatabaseUnavailable(f"cannot reach the database: {first}") from None
        self.write.start()

    def _open(self) -> None:
        conn = Connection.open(self.url, application_name=self.name)
        try:
            migrate(conn)
        finally:
            conn.close()
        self.write = PgWriter(self.url, self.name, *self._writer_args, node=self.node,
                              idle_timeout=self.lease_seconds)
        self._conn = Connection.open(self.url, application_name=self.name)
        self._bg = Connection.open(self.url, application_name=self.name)
        self._claims = Connection.open(self.url, application_name=self.name)

    async def close(self) -> None:
        self._conn.close()
        self._bg.close()
        self._claims.close()
        await self.write.close()

    def _loop_conn(self) -> Connection:
        if self._conn.raw.broken or self._conn.raw.closed:
            self._conn = Connection.open(self.url, application_name=self.name)
        return self._conn

    def read(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(conn, *args)`` in one read-only transaction: one snapshot for all its reads."""
        return _in_snapshot(self._loop_conn(), fn, *args)

    async def all(self, sql: str, params: tuple = ()) -> list[dict]:
        return [dict(r) for r in self._loop_conn().execute(sql, params).fetchall()]

    async def one(self, sql: str, params: tuple = ()) -> dict | None:
        rows = self._loop_conn().execute(sql, params).fetchall()
        return dict(rows[0]) if rows else None

    async def scalar(self, sql: str, params: tuple = ()):
        rows = self._loop_conn().execute(sql, params).fetchall()
        return rows[0][0] if rows else None

    async def claim(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(conn, *args)`` as one READ COMMITTED statement on a connection of its own
        (queue-style claims: FOR UPDATE SKIP LOCKED), outside the writer's batches."""
        async with self._claims_lock:
            if self._claims.raw.broken or self._claims.raw.closed:
                self._claims = Connection.open(self.url, application_name=self.name)
            return await asyncio.to_thread(fn, self._claims, *args)

    async def all_bg(self, *queries: tuple[str, tuple]) -> list[list[dict]]:
        def run(conn: Connection) -> list[list[dict]]:
            return [[dict(r) for r in conn.execute(sql, params).fetchall()]
                    for sql, params in queries]

        async with self._bg_lock:
            if self._bg.raw.broken or self._bg.raw.closed:
                self._bg = Connection.open(self.url, application_name=self.name)
            return await asyncio.to_thread(_in_snapshot, self._bg, run)


def _begin(conn: Connection, runs: list[str]) -> None:
    """BEGIN, then the holders of ``runs``' leases read FOR SHARE (lease.fenced) in one
    statement for the batch instead of one per op. Not pipelined with BEGIN: a node stopped
    between a pipeline's queries and its sync may hold the locks with no idle-in-transaction
    timeout (suspected when a takeover test timed out with it; not verified)."""
    conn.fences = None
    conn.execute("BEGIN IMMEDIATE")
    if runs:
        rows = conn.raw.execute(lease.HOLDERS, (runs,)).fetchall()
        conn.fences = {run_id: holder for run_id, holder in rows}


def _forget_fences(conn: Connection, op: Any) -> None:
    if op in lease.MOVES_LEASES:
        conn.fences = None


def _in_snapshot(conn: Connection, fn: Callable[..., T], *args: Any) -> T:
    conn.raw.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
    try:
        return fn(conn, *args)
    finally:
        status = conn.raw.info.transaction_status
        if status == TransactionStatus.INERROR:
            conn.raw.execute("ROLLBACK")
        elif status != TransactionStatus.IDLE:
            conn.raw.execute("COMMIT")
