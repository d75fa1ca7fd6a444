"""Scale-out: durable no-op steps/s with 1, 2 and 3 daemons on one PostgreSQL database,
beside one daemon on SQLite and beside DBOS on the same PostgreSQL server, in the same run.

The workload is the throughput scenario's: a template of K no-op ``set`` steps, 5 warm-up
runs, then N runs ``POST``ed at once; steps/s = N x K / (first ``POST`` sent -> the last
run's ``finished_at``). With several nodes every run is started through node 1's API and
all nodes execute (a new run is due for whichever node claims it). Each configuration gets
a fresh home per node and a fresh database, made and dropped here; DBOS (``start_workflow``
for all, then wait) gets a fresh database of its own on the same server. Per repetition the
configurations run one after another, so all see the same minutes of the machine.

Over each measured window the CPU seconds of: the daemons (``/proc/PID/stat``); the server's
backends serving the measured database and, apart, its background processes (pgserver.py);
this bench process (the load client); and the whole machine (``/proc/stat``), so what is
left is other work on the machine. DBOS's engine and client share one process: its
``worker_cpu_s``.
"""

from __future__ import annotations

import asyncio
import resource
import time
from pathlib import Path

from bench import dbos_side, pgserver
from bench.harness import Api, Daemon, fresh_home, median, noop_template, ts
from bench.nodes import Nodes
from bench.sizes import Sizes

WARMUP = 5
NODE_COUNTS = (1, 2, 3)


def _client_cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


async def measure(nodes: list[Daemon], sz: Sizes, db: str | None) -> dict:
    """The workload, its POSTs spread over the nodes' APIs; all of ``nodes`` execute.
    ``db``: the PostgreSQL database whose backends' CPU counts (None on SQLite)."""
    apis = [Api(d.url, d.token, max(1, sz.post_connections // len(nodes))) for d in nodes]
    api = apis[0]
    try:
        await api.template(noop_template("noop", sz.steps))
        await api.start_many("noop", WARMUP)
        await api.wait_count("completed", WARMUP, 60)
        pg0 = pgserver.cpu_snapshot([db]) if db else None
        daemons0 = sum(d.cpu_s() for d in nodes)
        client0, busy0 = _client_cpu_s(), pgserver.machine_busy_s()
        t0 = time.time()
        runs = await _start_spread(apis, sz.runs)
        posted = time.time() - t0
        await api.wait_count("completed", WARMUP + sz.runs, timeout=600, interval=0.05)
        daemons = sum(d.cpu_s() for d in nodes) - daemons0
        client, busy = _client_cpu_s() - client0, pgserver.machine_busy_s() - busy0
        pg = pgserver.cpu_between(pg0, pgserver.cpu_snapshot([db])) if pg0 else {}
        ids = {r["id"] for r in runs}
        done = [r for r in await api.all_runs("completed") if r["id"] in ids]
    finally:
        for a in apis:
            await a.close()
    window = max(ts(r["finished_at"]) for r in done) - t0
    steps = sz.runs * sz.steps
    out = {"steps_per_s": steps / window, "window_s": window, "post_s": posted,
           "daemons_cpu_s": daemons, "daemons_cpu_us_per_step": daemons / steps * 1e6}
    out |= pg
    if pg.get("pg_backends_cpu_s") is not None:
        out["pg_cpu_us_per_step"] = pg["pg_backends_cpu_s"] / steps * 1e6
    # the machine over the window (from the first POST to the bench seeing the last run
    # completed, a poll later than the window's end)
    out |= {"client_cpu_s": client, "machine_busy_s": busy,
            "other_cpu_s": busy - daemons - client - sum(v or 0.0 for v in pg.values())}
    return out


async def _start_spread(apis: list[Api], n: int) -> list[dict]:
    """``n`` runs started at once, the i-th through node i mod len(apis)."""
    return await asyncio.gather(*(apis[i % len(apis)].start("noop") for i in range(n)))


async def _sqlite(workdir: Path, sz: Sizes, rep: int) -> dict:
    d = Daemon(fresh_home(workdir, f"scaleout-sqlite-{rep}")).start()
    try:
        return await measure([d], sz, None)
    finally:
        d.stop()


async def _pg(workdir: Path, sz: Sizes, n: int, rep: int) -> dict:
    cluster = Nodes(workdir, f"scaleout-pg{n}-{rep}")
    try:
        nodes = cluster.start(n)
        return await measure(nodes, sz, cluster.db)
    finally:
        cluster.close()


async def _dbos_pg(workdir: Path, sz: Sizes, rep: int) -> dict:
    url = pgserver.create("wfe_bench_dbos")
    try:
        out = await dbos_side.once(workdir, "start", sz.runs, sz.steps, rep, url)
    finally:
        pgserver.drop(url)
    out["window_s"] = out.pop("total_s")
    if out.get("pg_backends_cpu_s") is not None:
        out["pg_cpu_us_per_step"] = out["pg_backends_cpu_s"] / (sz.runs * sz.steps) * 1e6
    out["other_cpu_s"] = out["machine_busy_s"] - out["worker_cpu_s"] - sum(
        out.get(k) or 0.0 for k in ("pg_backends_cpu_s", "pg_background_cpu_s"))
    return out


def configs(with_dbos: bool) -> list[str]:
    return ["sqlite-1", *(f"pg-{n}" for n in NODE_COUNTS), *(["dbos-pg"] if with_dbos else [])]


async def run(workdir: Path, sz: Sizes, with_dbos: bool) -> dict:
    reps: dict[str, list[dict]] = {name: [] for name in configs(with_dbos)}
    for rep in range(sz.reps):
        reps["sqlite-1"].append(await _sqlite(workdir, sz, rep))
        for n in NODE_COUNTS:
            reps[f"pg-{n}"].append(await _pg(workdir, sz, n, rep))
        if with_dbos:
            reps["dbos-pg"].append(await _dbos_pg(workdir, sz, rep))
    return summarize(reps, sz) | {"server": {"version": pgserver.version(),
                                             "settings": pgserver.settings()}}


def _numeric_median(reps: list[dict]) -> dict:
    keys = [k for k, v in reps[0].items() if isinstance(v, int | float) and v is not None]
    return {k: median(r.get(k) for r in reps) for k in keys}


def summarize(reps: dict[str, list[dict]], sz: Sizes) -> dict:
    per = {name: {"median": _numeric_median(rs), "reps": rs} for name, rs in reps.items()}
    steps = {name: c["median"]["steps_per_s"] for name, c in per.items()}
    med: dict = {f"{name}_steps_per_s": v for name, v in steps.items()}
    dbos = steps.get("dbos-pg")
    for n in NODE_COUNTS:
        if dbos:
            med[f"pg-{n}_x_dbos_pg"] = steps[f"pg-{n}"] / dbos
        if n > 1:
            med[f"pg-{n}_over_pg-1"] = steps[f"pg-{n}"] / steps["pg-1"]
    med["pg-1_over_sqlite-1"] = steps["pg-1"] / steps["sqlite-1"]
    return {"median": med, "configs": per, "runs": sz.runs, "steps": sz.steps,
            "reps_n": len(next(iter(reps.values())))}
