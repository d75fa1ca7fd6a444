"""Reading a step's growing log file as numbered lines, for the live log stream."""

from __future__ import annotations

import os
from pathlib import Path

from wfe.daemon.steps import logcap

MAX_LINE = 64 * 1024  # a longer line without a newline is sent in pieces of this size
READ_CHUNK = 1024 * 1024  # what one read of a log takes into memory


class LogReader:
    """Reads a growing log file as numbered lines, skipping the first ``skip``.

    The file is kept open: when the attempt ends its file is capped or masked and replaced,
    and the open handle still reads the original to its end, so line numbers stay
    consistent. While the step runs the middle of its file may be punched out (logcap):
    the bytes around the hole never move, and where the reader meets the hole it sends the
    marker line in its place, saying how many bytes it skipped."""

    def __init__(self, path: Path, skip: int, limit: int) -> None:
        self.path = path
        self.skip = skip
        self.limit = limit
        self.lines = 0
        self._fd: int | None = None
        self._pos = 0
        self._buf = b""

    def read(self, final: bool) -> tuple[list[tuple[int, str]], bool]:
        """Lines from at most READ_CHUNK more bytes, and whether more may be there now."""
        if self._fd is None:
            try:  # kept open across reads on purpose (see the class); close() closes it
                self._fd = os.open(self.path, os.O_RDONLY)
            except FileNotFoundError:
                return [], False
        with logcap.LOCK:
            skipped, chunk = logcap.read_data(self._fd, self._pos, READ_CHUNK)
        self._pos += skipped + len(chunk)
        if skipped:
            # A line cut by the hole ends where the hole starts; the marker is a line.
            cut = b"\n" if self._buf else b""
            self._buf += cut + logcap.marker_line(skipped, self.limit)
        self._buf += chunk
        # More is there now when this read stopped short of the end (at READ_CHUNK or a hole).
        more = bool(chunk) and self._pos < os.fstat(self._fd).st_size
        return self._split(final and not more), more

    def _split(self, final: bool) -> list[tuple[int, str]]:
        out = []
        while True:
            cut = self._buf.find(b"\n")
            if cut < 0 and len(self._buf) < MAX_LINE and not (final and self._buf):
                break
            end = cut if 0 <= cut < MAX_LINE else min(len(self._buf), MAX_LINE)
            raw, self._buf = self._buf[:end], self._buf[end + 1 if end == cut else end:]
            self.lines += 1
            if self.lines > self.skip:
                out.append((self.lines, raw.decode("utf-8", "replace").rstrip("\r")))
        return out

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
