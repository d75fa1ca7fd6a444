"""The DBOS side of the side-by-side, in its own process (DBOS is a process-wide singleton).

``python -m bench.dbos_worker MODE N K DIR`` prints one JSON line. The same workload as
wfe's throughput scenario: N workflows x K no-op ``@DBOS.step()`` steps on a SQLite system
database in WAL (DBOS leaves SQLite's rollback journal by default; WAL is set on the file
first, as in shared/peers/bench_dbos.py, so both engines run with the same journal).

MODE ``start``: ``DBOS.start_workflow`` for all N, then wait for every result (concurrent).
MODE ``seq``: one workflow after another; each workflow's latency.
"""

from __future__ import annotations

import json
import os
import sqlite3
import statistics
import sys
import time

from dbos import DBOS, DBOSConfig

MODE, N, K, DIR = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]


@DBOS.step()
def noop_step(i: int, j: int) -> None:
    return None


@DBOS.workflow()
def wf(i: int) -> int:
    for j in range(K):
        noop_step(i, j)
    return i


def main() -> None:
    os.makedirs(DIR, exist_ok=True)
    db = os.path.join(DIR, f"dbos_{MODE}.sqlite")
    for suffix in ("", "-wal", "-shm", "-journal"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.close()
    config: DBOSConfig = {"name": "wfebench", "system_database_url": f"sqlite:///{db}",
                          "log_level": "WARNING"}
    DBOS(config=config)
    DBOS.launch()
    for i in range(min(5, N)):  # warm-up, as on the wfe side
        wf(-1 - i)
    latencies = []
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
    conn = sqlite3.connect(db)
    journal = conn.execute("PRAGMA journal_mode").fetchone()[0]
    recorded = conn.execute("SELECT COUNT(*) FROM operation_outputs").fetchone()[0]
    conn.close()
    DBOS.destroy()
    out = {"mode": MODE, "n": N, "k": K, "journal_mode": journal, "total_s": total,
           "steps_per_s": N * K / total, "runs_per_s": N / total, "steps_recorded": recorded}
    if latencies:
        out["latency_ms_p50"] = statistics.median(latencies) * 1000
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
