"""DBOS on the same workload, in the same run (the optional ``bench`` extra: ``dbos>=3.4``)."""

from __future__ import annotations

import asyncio
import importlib.metadata
import importlib.util
import json
import sys
from pathlib import Path

from bench.harness import REPO, BenchError


def available() -> str | None:
    """DBOS's version when it can be imported here, else None."""
    if importlib.util.find_spec("dbos") is None:
        return None
    return importlib.metadata.version("dbos")


async def once(workdir: Path, mode: str, n: int, k: int, rep: int, db_url: str = "") -> dict:
    """One DBOS process on the workload; ``db_url``: a PostgreSQL system database (made and
    dropped by the caller) instead of a SQLite file."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.dbos_worker", mode, str(n), str(k),
        str(workdir / f"dbos-{mode}-{rep}"), *([db_url] if db_url else []), cwd=REPO,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 600)
    if proc.returncode != 0:
        raise BenchError(f"dbos worker failed ({proc.returncode}): {err.decode()[-2000:]}")
    return json.loads(out.decode().strip().splitlines()[-1])
