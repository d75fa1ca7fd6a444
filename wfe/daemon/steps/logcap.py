"""A cap on each attempt's log file: its first and last halves are kept, the middle dropped.

A step writes straight into its log through an fd (no pipe through the daemon, which keeps
small steps cheap), so the cap is applied to the file: when the attempt ends, and every
``interval`` seconds while it runs (a watcher over the files of running steps). Trimming
rewrites the file in place — the step's fd appends (O_APPEND), so it writes on at the new
end — as: the first half of the cap, one marker line saying how many bytes were dropped
(counted over every trim), the last half. Readers that follow a growing file find the marker
at ``head_size(limit)`` and map their position through it (see ``Trimmed``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("wfe.daemon")
CHUNK = 1024 * 1024
MARKER_MAX = 200
_MARKER = re.compile(rb"\n?\[wfe: (\d+) bytes dropped here; max_log_bytes is (\d+)\]\n")
# One lock for every trim and every read that follows a trimmed file: trims are rare and
# short next to the work a reader does between them.
LOCK = threading.Lock()
_WATCHED: dict[str, int] = {}  # the log files of running steps, and their caps


def head_size(limit: int) -> int:
    return limit // 2


@dataclass(frozen=True)
class Trimmed:
    """Where a trimmed file's marker is: bytes [head, head + marker) of the file stand for
    ``dropped`` bytes the step wrote."""

    head: int
    marker: int
    dropped: int


def marker_of(f, limit: int) -> Trimmed | None:
    """The marker in an open file, if it was ever trimmed (read under LOCK)."""
    head = head_size(limit)
    f.seek(head)
    found = _MARKER.match(f.read(MARKER_MAX))
    if found is None:
        return None
    return Trimmed(head, found.end(), int(found.group(1)))


def trim(path: str | Path, limit: int) -> bool:
    """Cut the file down to ``limit`` bytes plus the marker line; True when it did."""
    with LOCK:
        try:
            with open(path, "r+b") as f:
                return _trim_open(f, limit)
        except OSError as exc:
            log.warning("could not cap the log %s: %s", path, exc)
            return False


def _trim_open(f, limit: int) -> bool:
    size = os.fstat(f.fileno()).st_size
    before = marker_of(f, limit)
    kept_marker = before.marker if before else 0
    if size <= limit + kept_marker:
        return False
    head = head_size(limit)
    tail = limit - head
    dropped = (before.dropped if before else 0) + size - head - kept_marker - tail
    f.seek(head - 1)
    newline = b"" if f.read(1) == b"\n" else b"\n"
    marker = newline + f"[wfe: {dropped} bytes dropped here; max_log_bytes is {limit}]\n".encode()
    f.seek(head)
    f.write(marker)
    end = _copy(f, size - tail, head + len(marker))
    f.truncate(end)
    return True


def _copy(f, read_at: int, write_at: int) -> int:
    """Move bytes from ``read_at`` to the end of the file down to ``write_at`` (always the
    lower), including what the step appends meanwhile; the new end of the file."""
    while True:
        f.seek(read_at)
        chunk = f.read(CHUNK)
        if not chunk:
            return write_at
        f.seek(write_at)
        f.write(chunk)
        f.flush()
        read_at += len(chunk)
        write_at += len(chunk)


async def cap(path: str | Path, limit: int) -> None:
    """After an attempt: a stat in the common case, the trim (in a thread) past the cap."""
    try:
        size = os.stat(path).st_size
    except OSError:
        return
    if size > limit:
        await asyncio.to_thread(trim, path, limit)


class watched:
    """Marks a step's log as growing, for ``watch`` to cap while the step runs."""

    def __init__(self, path: str | Path, limit: int) -> None:
        self.path, self.limit = str(path), limit

    def __enter__(self) -> watched:
        _WATCHED[self.path] = self.limit
        return self

    def __exit__(self, *exc) -> None:
        _WATCHED.pop(self.path, None)


async def watch(interval: float) -> None:
    """For the supervisor: cap the logs of running steps every ``interval`` seconds."""
    while True:
        await asyncio.sleep(interval)
        for path, limit in list(_WATCHED.items()):
            try:
                size = os.stat(path).st_size
            except OSError:
                continue
            if size > limit + MARKER_MAX:
                await asyncio.to_thread(trim, path, limit)
