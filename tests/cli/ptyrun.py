"""Run ``wfe`` under a real pseudo-terminal and read its screen back.

The bytes are fed to pyte (a VT100 emulator) when it is installed, so a test sees what a
person would: the final frame of a rich Live view, not every frame drawn on the way. Without
pyte the escape sequences are stripped from the raw output instead.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import sys
import termios
import time

try:
    import pyte
except ImportError:  # pragma: no cover - the test extra installs it
    pyte = None

ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\x1b[=>()][0-9A-Za-z]?")


class PtyWfe:
    def __init__(self, env: dict[str, str], *args: str, cols: int = 110, rows: int = 40) -> None:
        self.cols, self.rows = cols, rows
        full = {k: v for k, v in os.environ.items() if not k.startswith("WFE_")}
        full.pop("NO_COLOR", None)
        full |= {"TERM": "xterm-256color", "COLUMNS": str(cols), "LINES": str(rows), **env}
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: become wfe on the terminal (an argv list, no shell)
            os.execve(sys.executable, [sys.executable, "-m", "wfe", *args], full)  # noqa: S606
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.raw = b""
        self.code: int | None = None
        if pyte is not None:
            self._screen = pyte.Screen(cols, rows)
            self._stream = pyte.ByteStream(self._screen)

    def _pump(self, timeout: float) -> bool:
        """Read what is there; False at the end of the output."""
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return True
        try:
            data = os.read(self.fd, 65536)
        except OSError:  # EIO: the child closed the terminal
            return False
        if not data:
            return False
        self.raw += data
        if pyte is not None:
            self._stream.feed(data)
        return True

    def screen(self) -> str:
        if pyte is not None:
            return "\n".join(line.rstrip() for line in self._screen.display)
        return ANSI.sub(b"", self.raw).decode("utf-8", "replace").replace("\r", "")

    def wait_for(self, text: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while text not in self.screen():
            if time.monotonic() > deadline or not self._pump(0.1):
                raise AssertionError(f"{text!r} never showed; the screen:\n{self.screen()}")
        return self.screen()

    def send(self, text: str) -> None:
        os.write(self.fd, text.encode())

    def finish(self, timeout: float = 30.0) -> int:
        deadline = time.monotonic() + timeout
        while self._pump(0.1):
            if time.monotonic() > deadline:
                os.kill(self.pid, 9)
                raise AssertionError(f"wfe did not exit; the screen:\n{self.screen()}")
        _, status = os.waitpid(self.pid, 0)
        os.close(self.fd)
        self.code = os.waitstatus_to_exitcode(status)
        return self.code
