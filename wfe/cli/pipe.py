"""A reader that leaves early: ``wfe events -f | head -3``, ``wfe ls | head -1``.

A command that writes to a pipe whose reader is gone gets BrokenPipeError on its next
write; the error boundary (wfe.cli.main) turns that into a quiet exit 141, what a shell
reports for a tool that SIGPIPE ended (git log | head). A follower, though, may wait a
long time between writes (a run waiting for an approval writes nothing): like ``tail -f``,
it should notice at once that nobody reads any more. ``exit_when_reader_leaves`` does that.
"""

from __future__ import annotations

import os
import select
import signal
import stat
import sys
import threading

# 128 + SIGPIPE: the status a shell shows for a process that SIGPIPE ended.
EXIT_BROKEN_PIPE = 141


class ReaderLeft(Exception):
    """Nobody reads our stdout any more. Not an OSError on purpose: the SSE reader takes
    OSErrors for a dropped connection to the daemon and would reconnect."""


def exit_when_reader_leaves() -> None:
    """From now on, raise ReaderLeft in the main thread as soon as stdout's reader goes,
    even while it waits (for the daemon's next event) rather than writes.

    Only for commands that only read: a command that changes something should finish
    (``wfe cancel RUN | true`` must cancel); a pipe's reader that leaves is noticed there
    at the next write, as by any Unix tool. Nothing to do when stdout is a terminal or a
    file, or when called off the main thread (signals go only to it)."""
    if threading.current_thread() is not threading.main_thread() or not _stdout_is_pipe():
        return
    signal.signal(signal.SIGPIPE, _reader_left)
    main = threading.main_thread().ident
    assert main is not None  # the main thread is running: us
    threading.Thread(target=_watch, args=(sys.stdout.fileno(), main), daemon=True,
                     name="wfe-reader").start()


def _stdout_is_pipe() -> bool:
    try:
        mode = os.fstat(sys.stdout.fileno()).st_mode
    except (OSError, ValueError, AttributeError):  # a test's captured output has no fd
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


def _watch(fd: int, main: int) -> None:
    """Block until the pipe's far end closes (Linux reports POLLERR on a pipe's write end
    without readers, POLLHUP on a socket), then signal the main thread: a signal, unlike a
    flag, also ends a wait in recv() or sleep()."""
    poller = select.poll()
    poller.register(fd, 0)  # no events asked for: POLLERR and POLLHUP come regardless
    gone = select.POLLERR | select.POLLHUP | select.POLLNVAL
    while not any(events & gone for _, events in poller.poll()):
        pass
    signal.pthread_kill(main, signal.SIGPIPE)


def _reader_left(signum: int, frame: object) -> None:
    raise ReaderLeft


def quiet_exit() -> None:
    """Point stdout at /dev/null, so that the interpreter's last flush cannot fail again
    on the closed pipe (and print "Exception ignored"). The caller then exits 141."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass  # not a real file (a test's captured output): nothing left to flush into a pipe
