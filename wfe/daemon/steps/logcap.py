"""A cap on each attempt's log file: its first and last halves are kept, the middle dropped.

A step writes straight into its log through an fd (no pipe through the daemon, which keeps
small steps cheap), and that fd appends (O_APPEND) at whatever the file's end is. So while
the step runs nothing in the file is ever moved and the file never shrinks: a copy-down
and truncate would race the writer and lose what it appended in between. Instead the
middle is *punched out* (fallocate PUNCH_HOLE|KEEP_SIZE, Linux): its disk blocks are freed,
every offset stays where it was, and readers skip the hole (``read_data``). Where holes
cannot be punched the file grows until the attempt ends.

When the attempt ends (its process has exited) the file is rewritten once, atomically (a
new file renamed over it): the first half of the cap, one marker line saying how many bytes
were dropped, the last half. A reader that holds the old file open reads it to its end.
"""

from __future__ import annotations

import asyncio
import ctypes
import errno
import logging
import os
import re
import sys
import threading
from pathlib import Path

log = logging.getLogger("wfe.daemon")
CHUNK = 1024 * 1024
MARKER_MAX = 200
_MARKER = re.compile(rb"\n?\[wfe: (\d+) bytes dropped here; max_log_bytes is (\d+)\]\n")
_KEEP_SIZE, _PUNCH_HOLE = 0x01, 0x02  # linux/falloc.h
# Held by a punch and by each read of a growing file, so that a reader never sees a range
# half punched (zeros that are not yet a hole).
LOCK = threading.Lock()
_WATCHED: dict[str, int] = {}  # the log files of running steps, and their caps


def head_size(limit: int) -> int:
    return limit // 2


def marker_line(dropped: int, limit: int) -> bytes:
    return f"[wfe: {dropped} bytes dropped here; max_log_bytes is {limit}]\n".encode()


# ---- while the step runs: free the middle, move nothing ---------------------------------


def _load_fallocate():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = getattr(libc, "fallocate64", None) or libc.fallocate
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
    fn.restype = ctypes.c_int
    return fn


_fallocate = _load_fallocate()


def punch(path: str | Path, limit: int) -> int:
    """Free the disk blocks of a growing log's middle; the bytes freed now (0 when there
    was nothing to do). OSError when this file system (or platform) cannot punch holes."""
    if _fallocate is None:
        raise OSError(errno.EOPNOTSUPP, "punching holes needs Linux")
    with LOCK:
        fd = os.open(path, os.O_WRONLY)
        try:
            st = os.fstat(fd)
            block = max(st.st_blksize, 4096)
            # Whole blocks only: a partial block would be zeroed, not freed, and zeros that
            # are not a hole would reach readers as text.
            start = -(-head_size(limit) // block) * block
            stop = (st.st_size - (limit - head_size(limit))) // block * block
            start = _punched_to(fd, start)
            if stop <= start:
                return 0
            if _fallocate(fd, _PUNCH_HOLE | _KEEP_SIZE, start, stop - start) != 0:
                code = ctypes.get_errno()
                raise OSError(code, os.strerror(code))
            return stop - start
        finally:
            os.close(fd)


def _punched_to(fd: int, start: int) -> int:
    """Where the hole that starts at ``start`` ends (``start`` when there is none yet)."""
    try:
        return max(start, os.lseek(fd, start, os.SEEK_DATA))
    except (OSError, AttributeError):
        return start


def read_data(fd: int, pos: int, size: int) -> tuple[int, bytes]:
    """Up to ``size`` bytes of a log from ``pos``, skipping a punched hole: (bytes of the
    hole skipped first, the data). Call under LOCK while the file may be punched."""
    skipped = 0
    seek_data = getattr(os, "SEEK_DATA", None)
    if seek_data is not None:
        try:
            skipped = os.lseek(fd, pos, seek_data) - pos
            end = os.lseek(fd, pos + skipped, os.SEEK_HOLE)
            size = min(size, end - pos - skipped)
        except OSError as exc:
            if exc.errno != errno.ENXIO:  # ENXIO: no data at or past pos (the end)
                raise
            return 0, b""
    return skipped, os.pread(fd, size, pos + skipped)


# ---- when the attempt ends: head, marker, tail ------------------------------------------


def compact(path: str | Path, limit: int) -> bool:
    """Rewrite a log past the cap as head + marker + tail, atomically; True when it did.
    Only once its writer is gone: what a leftover process writes later goes to the old
    file, never over the new one."""
    path = Path(path)
    tmp = path.with_name(path.name + ".capping")
    try:
        with open(path, "rb") as src:
            size = os.fstat(src.fileno()).st_size
            if size <= limit or _has_marker(src, limit):
                return False
            head, tail = head_size(limit), limit - head_size(limit)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as dst:
                last = _copy(src, dst, 0, head)
                dst.write((b"" if last == b"\n" else b"\n")
                          + marker_line(size - head - tail, limit))
                _copy(src, dst, size - tail, tail)
        os.replace(tmp, path)
    except OSError as exc:  # a full disk: the uncapped log stays, whole
        tmp.unlink(missing_ok=True)
        log.warning("could not cap the log %s: %s", path, exc)
        return False
    return True


def _copy(src, dst, at: int, count: int) -> bytes:
    """Copy ``count`` bytes from ``at``, a bounded piece at a time; the last byte copied."""
    src.seek(at)
    last = b""
    while count > 0:
        chunk = src.read(min(CHUNK, count))
        if not chunk:
            break
        dst.write(chunk)
        count -= len(chunk)
        last = chunk[-1:]
    return last


def _has_marker(f, limit: int) -> bool:
    """Whether the file is one ``compact`` wrote already (then it is not cut again)."""
    f.seek(head_size(limit))
    return _MARKER.match(f.read(MARKER_MAX)) is not None


async def cap(path: str | Path, limit: int) -> None:
    """After an attempt: a stat in the common case, the rewrite (in a thread) past the cap."""
    try:
        size = os.stat(path).st_size
    except OSError:
        return
    if size > limit:
        await asyncio.to_thread(compact, path, limit)


def cap_directory(path: str | Path, limit: int) -> None:
    """Cap every log of a run's directory: a crash leaves its running attempt's log with a
    hole and no marker."""
    try:
        entries = list(os.scandir(path))
    except OSError:
        return
    for entry in entries:
        if (entry.name.endswith(".log") and entry.is_file(follow_symlinks=False)
                and entry.stat().st_size > limit):
            compact(entry.path, limit)


# ---- the watcher ------------------------------------------------------------------------


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
    """For the supervisor: punch out the middle of running steps' logs every ``interval``."""
    while True:
        await asyncio.sleep(interval)
        for path, limit in list(_WATCHED.items()):
            await _punch_one(path, limit)


async def _punch_one(path: str, limit: int) -> None:
    try:
        if os.stat(path).st_size <= limit:
            return
        await asyncio.to_thread(punch, path, limit)
    except FileNotFoundError:
        return
    except OSError as exc:  # this file system cannot: the attempt's end caps it
        if _WATCHED.pop(path, None) is not None:
            log.warning("cannot cap the running log %s (%s): it is capped when the step"
                        " ends", path, exc)
