"""The PostgreSQL server the suite's postgres half runs on: one database per test.

One database is made and migrated per session and emptied before each test; tests that
run several daemons at once make (and drop) databases of their own.
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
    template: str = ""  # the session's database (emptied before each test)
    pristine: str = ""  # a migrated database only ever copied

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

    def _ensure_shared(self) -> str:
        """The session's database, made and migrated on first use."""
        if not self.template:
            from wfe.daemon.store.pg.dialect import Connection
            from wfe.daemon.store.pg.schema import migrate

            name = f"wfe_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
            self._admin(f"CREATE DATABASE {name}")
            # The server outlives every crash these tests cause (they kill daemons, not it),
            # so a commit need not wait for the disk: what a daemon was told stays.
            self._admin(f"ALTER DATABASE {name} SET synchronous_commit = off")
            conn = Connection.open(with_db(self.url, name))
            try:
                migrate(conn)
            finally:
                conn.close()
            self.template = name
        return self.template

    def fresh(self) -> str:
        """The session's database, emptied: every row of the last test is gone (a copy of
        a template per test costs a second of the server's time; this, milliseconds)."""
        import psycopg

        url = with_db(self.url, self._ensure_shared())
        with psycopg.connect(url, autocommit=True) as conn:
            # A daemon a test left behind must not write into the next test's database.
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                         " WHERE datname = current_database() AND pid <> pg_backend_pid()")
            tables = [r[0] for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                " AND tablename <> 'wfe_schema'").fetchall()]
            for table in ("events", "global_events"):  # a tamper test may have dropped a guard
                conn.execute(f"ALTER TABLE {table} ENABLE TRIGGER ALL")  # type: ignore[arg-type]
            with conn.transaction():
                # The append-only triggers guard the product, not a test's reset.
                conn.execute("SET LOCAL session_replication_role = replica")
                conn.execute("; ".join(f"DELETE FROM {t}" for t in tables))  # type: ignore[arg-type]
        return url

    def create(self) -> str:
        """A new, migrated database of its own (for tests that run several daemons at once).
        Copied from a pristine template nobody connects to: the session's database cannot
        be a template while a test's daemon may still be connected to it."""
        if not self.pristine:
            from wfe.daemon.store.pg.dialect import Connection
            from wfe.daemon.store.pg.schema import migrate

            self.pristine = f"wfe_tpl_{os.getpid()}_{uuid.uuid4().hex[:6]}"
            self._admin(f"CREATE DATABASE {self.pristine}")
            conn = Connection.open(with_db(self.url, self.pristine))
            try:
                migrate(conn)
            finally:
                conn.close()
        name = f"wfe_t_{uuid.uuid4().hex[:12]}"
        self._admin(f"CREATE DATABASE {name} TEMPLATE {self.pristine}")
        self._admin(f"ALTER DATABASE {name} SET synchronous_commit = off")
        return with_db(self.url, name)

    def drop(self, url: str) -> None:
        name = urlsplit(url).path.lstrip("/")
        self._admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def drop_template(self) -> None:
        for name in (self.template, self.pristine):
            if name:
                self._admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
