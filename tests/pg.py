"""The PostgreSQL server the suite's postgres half runs on: one database per test.

A migrated template database is made once per session; each test gets a copy of it
(CREATE DATABASE ... TEMPLATE, a file copy on the server) and drops it afterwards.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

DEFAULT = "postgresql://postgres@127.0.0.1:5432/postgres"


def with_db(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


@dataclass
class Server:
    url: str
    error: str = ""
    template: str = ""

    @classmethod
    def find(cls) -> Server:
        url = os.environ.get("WFE_TEST_POSTGRES", DEFAULT)
        try:
            import psycopg

            with psycopg.connect(url, autocommit=True, connect_timeout=3) as conn:
                conn.execute("SELECT 1")
        except Exception as exc:  # any failure means: no server for these tests
            return cls(url, error=str(exc).strip().splitlines()[0] if str(exc) else repr(exc))
        return cls(url)

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(sql)  # type: ignore[arg-type]

    def _ensure_template(self) -> str:
        if not self.template:
            from wfe.daemon.store.pg.dialect import Connection
            from wfe.daemon.store.pg.schema import migrate

            name = f"wfe_tpl_{os.getpid()}_{uuid.uuid4().hex[:6]}"
            self._admin(f"CREATE DATABASE {name}")
            conn = Connection.open(with_db(self.url, name))
            try:
                migrate(conn)
            finally:
                conn.close()
            self.template = name
        return self.template

    def create(self) -> str:
        name = f"wfe_t_{uuid.uuid4().hex[:12]}"
        self._admin(f"CREATE DATABASE {name} TEMPLATE {self._ensure_template()}")
        # The server outlives every crash these tests cause (they kill daemons, not it), so
        # a commit need not wait for the disk: what a daemon was told is committed stays.
        self._admin(f"ALTER DATABASE {name} SET synchronous_commit = off")
        return with_db(self.url, name)

    def drop(self, url: str) -> None:
        name = urlsplit(url).path.lstrip("/")
        self._admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def drop_template(self) -> None:
        if self.template:
            self._admin(f"DROP DATABASE IF EXISTS {self.template} WITH (FORCE)")
