"""Fault injection for crash tests: ``WFE_FAULT=POINT:ACTION[:N]``.

At the Nth time (default 1st) the daemon passes POINT, it either kills itself with
SIGKILL (``kill``) or raises an I/O error there (``ioerror``). Unset, it does nothing.
Points: step_started, before_step_commit, after_step_commit, recovery, webhook_send.
"""

from __future__ import annotations

import os
import signal

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
    elif _action == "ioerror":
        raise OSError(f"injected I/O error at {point}")
