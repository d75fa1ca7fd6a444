"""This daemon as one node of several that share a PostgreSQL database.

What a single daemon knows by being alone, nodes learn from the database: which node
executes a run (its lease, see store/pg/lease.py), and what happened on another node (a
wake for a run this node executes, a cancel, a commit that live streams should look at),
which arrives by LISTEN/NOTIFY on a connection of its own, read by a thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import os
import socket
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wfe import __version__
from wfe.daemon.procs import kill_leftovers
from wfe.daemon.store.pg import lease

if TYPE_CHECKING:
    from wfe.daemon.supervisor import Supervisor

log = logging.getLogger("wfe.cluster")
CLAIM_BATCH = 16  # due runs one node claims per look: a burst is spread over the nodes


class Cluster:
    def __init__(self, sup: Supervisor, node: str) -> None:
        self.sup = sup
        self.node = node
        self.store: Any = sup.store
        self.seconds = sup.settings.lease_seconds
        self.host = socket.gethostname()
        self._stop = threading.Event()
        self._listener: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.fenced: set[str] = set()
        self.held: set[str] = set()  # leases this node's Runners hold: the ones it renews

    # ---- start and stop -----------------------------------------------------------------

    async def start(self, key_file: Path) -> None:
        self._loop = asyncio.get_running_loop()
        await self.store.write(lease.check_key, await asyncio.to_thread(_key_digest, key_file))
        await self.store.write(lease.register, self.node, self.host, os.getpid(), "",
                               __version__, self.seconds, _alive)
        ready = threading.Event()
        self._listener = threading.Thread(target=self._listen, args=(ready,),
                                          name="wfe-listen", daemon=True)
        self._listener.start()
        await asyncio.to_thread(ready.wait, 10)

    async def stop(self) -> None:
        self._stop.set()
        with contextlib.suppress(Exception):  # a node that cannot say so is seen as lapsed
            # ...and its listener, woken by the note, sees it should stop.
            await self.store.write(lease.unregister, self.node)
        if self._listener is not None:
            await asyncio.to_thread(self._listener.join, 5)

    def claim_delivery(self, conn: Any, delivery_id: str, hold: float) -> bool:
        return lease.claim_delivery(conn, self.node, delivery_id, hold)

    async def recover(self) -> list[str]:
        """At start: the runs this node's former self held (a restart with the same
        node_id) are taken over at once; other nodes' runs wait for their leases."""
        await self.store.write(lease.release_deliveries, self.node)
        revived = []
        for run_id in self.store.read(lease.own_leases, self.node):
            if await self._take_over(run_id, force=True):
                revived.append(run_id)
        return revived

    # ---- leases -------------------------------------------------------------------------

    async def acquire(self, run_id: str) -> bool:
        got = await self.store.write(lease.acquire, self.node, run_id, self.seconds)
        if got:
            self.fenced.discard(run_id)
            self.held.add(run_id)
        return got

    async def release(self, run_id: str) -> None:
        """A node that stops hands its runs on: they are woken for any node to go on."""
        self.held.discard(run_id)
        await self.store.write(lease.release, self.node, run_id, self.sup.draining,
                               self.sup.settings.max_recoveries)

    async def claim_due(self, now: float, room: int) -> list[str]:
        """Due runs this node now holds (a few at a time, so that nodes share them)."""
        if room <= 0:
            return []
        return await self.store.claim(lease.claim_due, self.node, now, min(room, CLAIM_BATCH))

    def holder_url(self, run_id: str) -> str | None:
        """The URL of the other live node that executes the run now (its step logs are
        files on that node's disk), else None."""
        return self.store.read(lease.holder_url, run_id, self.node, self.seconds)

    def wake(self, run_id: str) -> None:
        """Woken here, executed by whichever node claims it (or its live holder)."""
        task = asyncio.ensure_future(self.store.write(lease.mark_due, run_id, self.seconds))
        task.add_done_callback(_log_failure)

    def write(self, run_id: str, op: Any, *args: Any) -> Any:
        return self.store.write(lease.fenced, self.node, run_id, op, *args)

    async def renew(self, url: str) -> None:
        """On the claims connection, not through the writer: a renewal queued behind a long
        batch could come too late."""
        held = list(self.held)
        lost = await self.store.claim(lease.renew, self.node, held, url)
        for run_id in lost:
            if run_id in self.held:  # not released meanwhile
                self.held.discard(run_id)
                self.lose(run_id)

    def lose(self, run_id: str) -> None:
        """Another node took the run over: stop its steps here, commit nothing more."""
        if run_id in self.fenced:
            return
        self.fenced.add(run_id)
        log.warning("fenced: node %s lost the lease of run %s; another node executes it now",
                    self.node, run_id)
        runner = self.sup.runners.get(run_id)
        if runner is not None:
            runner.kill()

    async def takeover_loop(self) -> None:
        """Runs whose node stopped renewing their leases are closed and woken here."""
        while True:
            await asyncio.sleep(min(1.0, self.seconds / 3))
            for run_id in self.store.read(lease.expired, self.seconds):
                if run_id not in self.sup.live:
                    await self._take_over(run_id)

    async def _take_over(self, run_id: str, force: bool = False) -> bool:
        took = await self.store.write(lease.take_over, self.node, run_id,
                                      self.sup.settings.max_recoveries, self.seconds, force)
        if took is None:
            return False
        log.warning("took over run %s from node %s (its lease lapsed)", run_id, took["holder"])
        if took["host"] == self.host and took["attempts"]:  # its step processes are here
            await asyncio.to_thread(kill_leftovers, took["attempts"])
        self.sup.wake(run_id)  # due now: any node may claim it
        return True

    # ---- messages between nodes ---------------------------------------------------------

    def cancel(self, run_id: str) -> None:
        """Tell the node executing the run to stop its steps (within a second)."""
        task = asyncio.ensure_future(self.store.write(lease.notify, f"cancel * {run_id}"))
        task.add_done_callback(_log_failure)

    def _listen(self, ready: threading.Event) -> None:
        from wfe.daemon.store.pg.dialect import Connection

        while not self._stop.is_set():
            try:
                conn = Connection.open(self.store.url, application_name=f"wfe {self.node}")
                try:
                    conn.raw.execute(f"LISTEN {lease.CHANNEL}")
                    ready.set()
                    while not self._stop.is_set():
                        for note in conn.raw.notifies(timeout=0.5):
                            self._deliver(note.payload)
                            if self._stop.is_set():
                                break
                finally:
                    conn.close()
            except Exception:
                log.warning("the listener's connection failed; reconnecting", exc_info=True)
                ready.set()
                self._stop.wait(1.0)

    def _deliver(self, payload: str) -> None:
        kind, _, rest = payload.partition(" ")
        target, _, run_id = rest.partition(" ")
        if target not in ("*", self.node) or self._loop is None:
            return
        if kind == "commit":  # "commit * SENDER": another node's commit
            if run_id != self.node:
                self._loop.call_soon_threadsafe(self.store.write.tick)
        elif kind == "wake":
            self._loop.call_soon_threadsafe(self.sup.wake_here, run_id)
        elif kind == "due":
            self._loop.call_soon_threadsafe(self.sup.timer_poke)
        elif kind == "cancel":
            self._loop.call_soon_threadsafe(self.sup.cancel_here, run_id)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive, and not ours to reuse
        return True
    return True


def _key_digest(key_file: Path) -> str:
    return hmac.digest(key_file.read_bytes().strip(), b"wfe-node-key-check", "sha256").hex()


def _log_failure(task: asyncio.Future) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("could not tell the other nodes: %s", task.exception())
