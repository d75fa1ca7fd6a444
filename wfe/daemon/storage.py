"""A full disk: how it is recognised, and waiting it out instead of losing work.

SQLite says SQLITE_FULL ("database or disk is full"); files say ENOSPC (or EDQUOT, a quota
that is full). Either way nothing was written, and the same write succeeds once space is
freed, so the daemon answers 507 ``storage_full`` to requests and its Runners wait.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from wfe.daemon.store.util import is_full

log = logging.getLogger("wfe.storage")
T = TypeVar("T")


async def until_stored(fn: Callable[[], Awaitable[T]], interval: float, what: str) -> T:
    """``fn()``, tried again every ``interval`` seconds for as long as the disk is full."""
    waited = False
    while True:
        try:
            value = await fn()
        except Exception as exc:
            if not is_full(exc):
                raise
            if not waited:
                log.warning("%s waits for disk space: %s", what, exc)
                waited = True
            await asyncio.sleep(interval)
            continue
        if waited:
            log.info("%s went on: the disk has space again", what)
        return value
