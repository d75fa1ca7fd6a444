"""Several real daemons on one real PostgreSQL database (a database of their own)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import Daemon, daemon_env

LEASE = 3.0  # seconds: short, so takeovers happen within a test, long beside a heartbeat


class Nodes:
    def __init__(self, tmp_path: Path, url: str) -> None:
        self.tmp_path, self.url = tmp_path, url
        self.key = tmp_path / "secret.key"
        self.key.write_text(os.urandom(32).hex() + "\n")
        self.key.chmod(0o600)
        self.all: list[Daemon] = []

    def start(self, n: int, **extra: str) -> list[Daemon]:
        made = []
        for _ in range(n):
            name = f"n{len(self.all) + 1}"
            home = self.tmp_path / name / "home"
            home.parent.mkdir(parents=True, exist_ok=True)
            env = daemon_env(home, WFE_DATABASE_URL=self.url, WFE_NODE_ID=name,
                             WFE_SECRET_KEY_FILE=str(self.key), WFE_LEASE_SECONDS=str(LEASE),
                             WFE_LOG_LEVEL="INFO", **extra)
            d = Daemon(home, env)
            self.all.append(d)
            made.append(d.start())
        return made

    def stop(self) -> None:
        for d in self.all:
            if d.proc and d.proc.poll() is None:
                d.proc.kill()
                d.proc.wait(10)


@pytest.fixture
def nodes(tmp_path: Path, pg_server):
    url = pg_server.create()
    cluster = Nodes(tmp_path, url)
    yield cluster
    cluster.stop()
    pg_server.drop(url)
