"""Several daemons ("nodes") on one PostgreSQL database, as real processes.

Each node has its own ``WFE_HOME`` and ``WFE_NODE_ID``; all share the database and one
secret key file (32 random bytes, hex, mode 0600), as a user runs them (README, Scale out).
The database is made for the cluster and dropped with it.
"""

from __future__ import annotations

import os
from pathlib import Path

from bench import pgserver
from bench.harness import Daemon, fresh_home


class Nodes:
    def __init__(self, workdir: Path, name: str, **env: str) -> None:
        self.dir = fresh_home(workdir, name)
        self.dir.mkdir(parents=True)
        self.url = pgserver.create("wfe_bench")
        self.key = self.dir / "secret.key"
        self.key.write_text(os.urandom(32).hex() + "\n")
        self.key.chmod(0o600)
        self.env = env
        self.all: list[Daemon] = []

    @property
    def db(self) -> str:
        return pgserver.db_name(self.url)

    def start(self, n: int) -> list[Daemon]:
        """``n`` more nodes, one after another (the first migrates the new database)."""
        made = []
        for _ in range(n):
            node = f"n{len(self.all) + 1}"
            d = Daemon(self.dir / node, WFE_DATABASE_URL=self.url, WFE_NODE_ID=node,
                       WFE_SECRET_KEY_FILE=str(self.key), **self.env)
            self.all.append(d)
            made.append(d.start())
        return made

    def close(self) -> None:
        """Stop every node still running (SIGTERM), then drop the database."""
        try:
            for d in self.all:
                if d.proc is not None:
                    d.stop()
        finally:
            pgserver.drop(self.url)
