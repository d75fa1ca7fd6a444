"""Reading a step's growing log file as numbered lines, for the live log stream."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

from wfe.daemon.steps import logcap

MAX_LINE = 64 * 1024  # a longer line without a newline is sent in pieces of this size
READ_CHUNK = 1024 * 1024  # what one read of a log takes into memory


class LogReader:
    """Reads a growing log file as numbered lines, skipping the first ``skip``.

    The file is kept open: when the attempt ends its file is masked and replaced, and the
    open handle still reads the original to its end, so line numbers stay consistent. While
    the step runs its file may be trimmed in place (logcap): the reader maps its position
    through the marker, and when what it had not read yet was dropped it goes on from the
    marker, which it sends as a line."""

    def __init__(self, path: Path, skip: int, limit: int) -> None:
        self.path = path
        self.skip = skip
        self.limit = limit
        self.lines = 0
        self._file: BinaryIO | None = None
        self._buf = b""
        self._trim: logcap.Trimmed | None = None

    def read(self, final: bool) -> tuple[list[tuple[int, str]], bool]:
        """Lines from at most READ_CHUNK more bytes, and whether more may be there now."""
        if self._file is None:
            try:  # kept open across reads on purpose (see the class); close() closes it
                self._file = open(self.path, "rb")  # noqa: SIM115
            except FileNotFoundError:
                return [], False
        with logcap.LOCK:
            self._follow_trim(self._file)
            chunk = self._file.read(READ_CHUNK)
        self._buf += chunk
        more = len(chunk) == READ_CHUNK
        return self._split(final and not more), more

    def _follow_trim(self, file: BinaryIO) -> None:
        pos = file.tell()
        trim = logcap.marker_of(file, self.limit)
        file.seek(pos)
        if trim is None or trim == self._trim:
            return
        before, self._trim = self._trim, trim
        if pos <= trim.head:
            return  # the head is never rewritten: read on into the marker
        # Where the reader is in the step's output, then in the trimmed file.
        old_marker, old_dropped = (before.marker, before.dropped) if before else (0, 0)
        written = trim.head + old_dropped + max(0, pos - trim.head - old_marker)
        if written >= trim.head + trim.dropped:
            file.seek(trim.head + trim.marker + written - trim.head - trim.dropped)
        else:  # what came next was dropped: the marker line says so
            self._buf = b""
            file.seek(trim.head)

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
        if self._file is not None:
            self._file.close()
