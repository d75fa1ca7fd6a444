"""Which store a daemon opens: the SQLite file (the default) or a shared PostgreSQL."""

from __future__ import annotations

import functools
import math
import os
import socket
from pathlib import Path
from typing import Any

from wfe.config import Paths, Settings
from wfe.daemon.faults import disk_full


def is_shared(settings: Settings) -> bool:
    return settings.database_url.startswith(("postgresql://", "postgres://"))


def node_id(settings: Settings) -> str:
    return settings.node_id or f"{socket.gethostname()}:{os.getpid()}"


def sqlite_path(settings: Settings, p: Paths) -> Path:
    url = settings.database_url
    return Path(url[len("sqlite:///"):]).expanduser() if url.startswith("sqlite:///") else p.db


def make_store(settings: Settings, p: Paths) -> Any:
    retry_after = max(1, math.ceil(settings.storage_retry_interval))
    if is_shared(settings):
        from wfe.daemon.store.pg.store import PgStore  # psycopg is needed only here

        return PgStore(settings.database_url, node_id(settings), retry_after,
                       functools.partial(disk_full, "db"))
    from wfe.daemon.store import Store

    return Store(sqlite_path(settings, p), settings.synchronous, retry_after=retry_after,
                 before_commit=functools.partial(disk_full, "db"))
