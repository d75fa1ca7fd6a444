"""``python -m bench.pg_driver [URL]``: psycopg 3 (synchronous, as the store's writer thread
uses it) beside asyncpg (on the event loop), on the same PostgreSQL server, same work.

Two shapes: single round trips (a point read), and transactions of a store op's shape (an
UPDATE ... RETURNING, an INSERT, an UPDATE, in BEGIN ... COMMIT). Medians of 5 rounds;
asyncpg is not installed by wfe (``pip install asyncpg`` to run this).
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
import uuid

import psycopg

N_READS, N_TXNS, ROUNDS = 2000, 500, 5
SETUP = ("DROP TABLE IF EXISTS drv_runs, drv_events;"
         " CREATE TABLE drv_runs (id text PRIMARY KEY, last_seq bigint NOT NULL DEFAULT 0);"
         " CREATE TABLE drv_events (id bigserial PRIMARY KEY, run_id text, seq bigint,"
         " data text)")


def psycopg_round(url: str) -> tuple[float, float]:
    with psycopg.connect(url, autocommit=True) as conn:
        t = time.perf_counter()
        for _ in range(N_READS):
            conn.execute("SELECT last_seq FROM drv_runs WHERE id = %s", ("r0",)).fetchone()
        reads = N_READS / (time.perf_counter() - t)
        t = time.perf_counter()
        for i in range(N_TXNS):
            with conn.transaction():
                (seq,) = conn.execute("UPDATE drv_runs SET last_seq = last_seq + 1 WHERE id = %s"
                                      " RETURNING last_seq", (f"r{i % 50}",)).fetchone()
                conn.execute("INSERT INTO drv_events (run_id, seq, data) VALUES (%s,%s,%s)",
                             (f"r{i % 50}", seq, "{}"))
                conn.execute("UPDATE drv_runs SET id = id WHERE id = %s", (f"r{i % 50}",))
        return reads, N_TXNS / (time.perf_counter() - t)


async def asyncpg_round(url: str) -> tuple[float, float]:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        t = time.perf_counter()
        for _ in range(N_READS):
            await conn.fetchrow("SELECT last_seq FROM drv_runs WHERE id = $1", "r0")
        reads = N_READS / (time.perf_counter() - t)
        t = time.perf_counter()
        for i in range(N_TXNS):
            async with conn.transaction():
                seq = await conn.fetchval("UPDATE drv_runs SET last_seq = last_seq + 1"
                                          " WHERE id = $1 RETURNING last_seq", f"r{i % 50}")
                await conn.execute("INSERT INTO drv_events (run_id, seq, data)"
                                   " VALUES ($1,$2,$3)", f"r{i % 50}", seq, "{}")
                await conn.execute("UPDATE drv_runs SET id = id WHERE id = $1", f"r{i % 50}")
        return reads, N_TXNS / (time.perf_counter() - t)
    finally:
        await conn.close()


def main(admin: str) -> None:
    name = f"wfe_drv_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")  # type: ignore[arg-type]
        conn.execute(f"ALTER DATABASE {name} SET synchronous_commit = off")  # type: ignore
    url = admin.rsplit("/", 1)[0] + "/" + name
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(SETUP)  # type: ignore[arg-type]
            conn.execute("INSERT INTO drv_runs (id) SELECT 'r' || g FROM generate_series(0, 49) g")
        got: dict[str, list[tuple[float, float]]] = {"psycopg": [], "asyncpg": []}
        for _ in range(ROUNDS):  # interleaved: a noisy moment hurts both alike
            got["psycopg"].append(psycopg_round(url))
            got["asyncpg"].append(asyncio.run(asyncpg_round(url)))
        print(f"{'driver':10} {'point reads/s':>14} {'op-shaped txns/s':>17}"
              f"  (medians of {ROUNDS})")
        for driver, rows in got.items():
            print(f"{driver:10} {statistics.median(r[0] for r in rows):14,.0f}"
                  f" {statistics.median(r[1] for r in rows):17,.0f}")
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE {name} WITH (FORCE)")  # type: ignore[arg-type]


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "postgresql://postgres@127.0.0.1:5432/postgres")
