"""Which store a daemon opens: the SQLite file (the default) or a shared PostgreSQL."""

from __future__ import annotations

import functools
import hashlib
import math
import os
import socket
from pathlib import Path
from typing import Any

from wfe.config import Paths, Settings, paths
from wfe.daemon.faults import disk_full


def is_shared(settings: Settings) -> bool:
    return settings.database_url.startswith(("postgresql://", "postgres://"))


def node_id(settings: Settings, p: Paths | None = None) -> str:
    """The setting, or one stable for this host and home (one daemon per home): a daemon
    restarted after a crash is the same node, and takes its own runs back at once."""
    if settings.node_id:
        return settings.node_id
    home = str((p or paths()).data_dir)
    return f"{socket.gethostname()}-{hashlib.sha256(home.encode()).hexdigest()[:6]}"


def sqlite_path(settings: Settings, p: Paths) -> Path:
    url = settings.database_url
    return Path(url[len("sqlite:///"):]).expanduser() if url.startswith("sqlite:///") else p.db


def make_store(settings: Settings, p: Paths) -> Any:
    retry_after = max(1, math.ceil(settings.storage_retry_interval))
    if is_shared(settings):
        from wfe.daemon.store.pg.store import PgStore  # psycopg is needed only here

        return PgStore(settings.database_url, node_id(settings, p), retry_after,
                       functools.partial(disk_full, "db"), settings.lease_seconds)
    from wfe.daemon.store import Store

    return Store(sqlite_path(settings, p), settings.synchronous, retry_after=retry_after,
                 before_commit=functools.partial(disk_full, "db"))


def describe(settings: Settings, p: Paths) -> str:
    """The database as a person may see it: a server's address without its password."""
    if not is_shared(settings):
        return f"sqlite:///{sqlite_path(settings, p)}"
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(settings.database_url)
    host = parts.hostname or ""
    netloc = (f"{parts.username}@" if parts.username else "") + host \
        + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def schema_status(settings: Settings, p: Paths, apply: bool = False) -> dict:
    """The schema's version in the database and the version this wfe writes; ``apply``
    migrates first (under the advisory lock on a shared server)."""
    if is_shared(settings):
        from wfe.daemon.store.pg import schema as pg_schema
        from wfe.daemon.store.pg.dialect import Connection

        conn = Connection.open(settings.database_url, connect_timeout=10)
        try:
            if apply:
                pg_schema.migrate(conn)
            have, want = pg_schema.version(conn), len(pg_schema.MIGRATIONS)
        finally:
            conn.close()
        backend = "postgres"
    else:
        import sqlite3

        from wfe.daemon.store import schema

        path = sqlite_path(settings, p)
        if apply:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            if not path.exists():
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        have = 0
        if path.exists():
            lite = sqlite3.connect(path, isolation_level=None)
            try:
                if apply:
                    schema.migrate(lite)
                (have,) = lite.execute("PRAGMA user_version").fetchone()
            finally:
                lite.close()
        want, backend = len(schema.MIGRATIONS), "sqlite"
    return {"backend": backend, "database": describe(settings, p), "version": have,
            "latest": want, "pending": max(0, want - have), "newer": have > want}
