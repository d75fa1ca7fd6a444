"""The DBOS side of the side-by-side, in its own process (DBOS is a process-wide singleton).

``python -m bench.dbos_worker MODE N K DIR [DB_URL]`` prints one JSON line. The same workload
as wfe's throughput scenario: N workflows x K no-op ``@DBOS.step()`` steps on a SQLite system
database in WAL (DBOS leaves SQLite's rollback journal by default; WAL is set on the file
first, as in shared/peers/bench_dbos.py, so both engines run with the same journal).

With DB_URL (``postgresql://...``, a fresh database the caller made and drops) the system
database is PostgreSQL instead, DBOS's native backend, as in shared/peers/bench_dbos.py's
``DB_URL``. Then the worker also reports the CPU seconds its own process and the server's
processes (bench/pgserver.py) used over the measured window.

MODE ``start``: ``DBOS.start_workflow`` for all N, then wait for every result (concurrent).
MODE ``seq``: one workflow after another; each workflow's latency.
"""

from __future__ import annotations

import json
import os
import resource
import sqlite3
import statistics
import sys
import time

from dbos import DBOS, DBOSConfig

MODE, N, K, DIR = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
DB_URL = sys.argv[5] if len(sys.argv) > 5 else ""


@DBOS.step()
def noop_step(i: int, j: int) -> None:
    return None


@DBOS.workflow()
def wf(i: int) -> int:
    for j in range(K):
        noop_step(i, j)
    return i


def _self_cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


SQLITE_DB = os.path.join(DIR, f"dbos_{MODE}.sqlite")


def _sqlite_url() -> str:
    os.makedirs(DIR, exist_ok=True)
    db = SQLITE_DB
    for suffix in ("", "-wal", "-shm", "-journal"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.close()
    return f"sqlite:///{db}"


def _recorded() -> tuple[str, int]:
    """The journal (or "postgresql") and how many step outputs DBOS recorded."""
    if DB_URL:
        import sqlalchemy as sa  # DBOS brings it

        engine = sa.create_engine(DB_URL.replace("postgresql://", "postgresql+psycopg://", 1))
        with engine.connect() as c:
            n = c.execute(sa.text("SELECT count(*) FROM dbos.operation_outputs")).scalar()
        engine.dispose()
        return "postgresql", int(n or 0)
    conn = sqlite3.connect(SQLITE_DB)
    journal = conn.execute("PRAGMA journal_mode").fetchone()[0]
    recorded = conn.execute("SELECT COUNT(*) FROM operation_outputs").fetchone()[0]
    conn.close()
    return journal, recorded


def main() -> None:
    if DB_URL:
        from bench import pgserver

        url, dbs = DB_URL, [pgserver.db_name(DB_URL)]
    else:
        url = _sqlite_url()
    config: DBOSConfig = {"name": "wfebench", "system_database_url": url,
                          "log_level": "WARNING"}
    DBOS(config=config)
    DBOS.launch()
    for i in range(min(5, N)):  # warm-up, as on the wfe side
        wf(-1 - i)
    latencies = []
    if DB_URL:
        pg0, busy0 = pgserver.cpu_snapshot(dbs), pgserver.machine_busy_s()
    cpu0 = _self_cpu_s()
    t0 = time.perf_counter()
    if MODE == "start":
        handles = [DBOS.start_workflow(wf, i) for i in range(N)]
        for h in handles:
            h.get_result()
    elif MODE == "seq":
        for i in range(N):
            a = time.perf_counter()
            wf(i)
            latencies.append(time.perf_counter() - a)
    else:
        raise SystemExit(f"unknown mode {MODE}")
    total = time.perf_counter() - t0
    cpu = _self_cpu_s() - cpu0
    out = {"mode": MODE, "n": N, "k": K}
    if DB_URL:
        out |= pgserver.cpu_between(pg0, pgserver.cpu_snapshot(dbs))
        out["machine_busy_s"] = pgserver.machine_busy_s() - busy0
    journal, recorded = _recorded()
    DBOS.destroy()
    out |= {"journal_mode": journal, "total_s": total, "steps_per_s": N * K / total,
            "runs_per_s": N / total, "steps_recorded": recorded, "worker_cpu_s": cpu}
    if latencies:
        out["latency_ms_p50"] = statistics.median(latencies) * 1000
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
