"""WAL checkpoints on a thread of their own, so the writer never does them.

With SQLite's automatic checkpoints, the commit that pushes the WAL past 1,000 pages also
copies them into the database file and fsyncs it (``synchronous=NORMAL`` in WAL), while
every caller in that group waits. Under load that was more than half of the writer's
commit time. Here the writer only commits; this thread runs a PASSIVE checkpoint (it never
blocks the writer or a reader) at most every ``interval`` seconds, and only after commits.
Durability is unchanged: a commit is durable in the WAL; a checkpoint only moves it.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

log = logging.getLogger("wfe.store")

INTERVAL = 0.2


class Checkpointer:
    def __init__(self, path: str, interval: float = INTERVAL) -> None:
        self._path = path
        self._interval = interval
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="wfe-checkpoint", daemon=True)
        self.runs = 0

    def start(self) -> None:
        self._thread.start()

    def dirty(self) -> None:
        """The writer committed: there are WAL frames to move."""
        self._dirty.set()

    def stop(self) -> None:
        self._stop.set()
        self._dirty.set()
        self._thread.join()

    def _loop(self) -> None:
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA busy_timeout=5000")
            while True:
                self._dirty.wait()
                if self._stop.is_set():
                    return
                self._dirty.clear()
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    self.runs += 1
                except sqlite3.Error:
                    log.exception("WAL checkpoint failed; trying again after the next commit")
                if self._stop.wait(self._interval):
                    return
        finally:
            conn.close()
