"""Fault injection for crash tests: ``WFE_FAULT=POINT:ACTION[:N]``.

At the Nth time (default 1st) the daemon passes POINT, it either kills itself with
SIGKILL (``kill``), stops itself with SIGSTOP (``stop``: a paused VM, a partition) or raises
an I/O error there (``ioerror``). Unset, it does nothing.
Points: step_started, before_step_commit, after_step_commit, recovery, webhook_send,
child_started (a workflow step's child run committed, not yet woken), item_started,
after_item_commit (a foreach step's items),
schedule_fire (a fire's run made, not committed), schedule_fired (committed, not woken),
step_commit (a step's success written, its transaction not committed: its locks held).

``WFE_FAULT=disk_full:MARKER`` makes the disk "full" for as long as the file MARKER exists:
the writer's commits fail with SQLite's "database or disk is full" and step log files with
ENOSPC, so a test can fill the disk and free it again while the daemon keeps running.
"""

from __future__ import annotations

import errno
import os
import signal
import sqlite3

_spec = os.environ.get("WFE_FAULT", "")
_point, _, _rest = _spec.partition(":")
_action, _, _nth = _rest.partition(":")
_count = 0


def fault(point: str) -> None:
    global _count
    if not _spec or point != _point:
        return
    _count += 1
    if _count != int(_nth or 1):
        return
    if _action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif _action == "stop":
        os.kill(os.getpid(), signal.SIGSTOP)
    elif _action == "ioerror":
        raise OSError(f"injected I/O error at {point}")


def disk_full(what: str) -> None:
    """Fail as a full disk would while the ``disk_full`` marker exists (``what``: db or log)."""
    if _point != "disk_full" or not os.path.exists(_rest):
        return
    if what == "db":
        raise sqlite3.OperationalError("database or disk is full")
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
