"""Takeover: how long the runs of a node killed with ``kill -9`` wait before other nodes
execute them again.

Three nodes on a fresh PostgreSQL database (``lease_seconds`` and ``heartbeat_interval``
from the sizes: the heartbeat renews a node's leases, so it must be well below the lease).
A steady load: a run of K ``run: "sleep S"`` steps started through node 1's API every
1/rate seconds, so every node holds runs in the middle of a step. Once the victim (node 2
or node 3, alternately) holds some running runs, it is killed with SIGKILL; the runs whose
lease it held then (``runs.lease_node``, read from the database right after the kill) are
its in-flight runs. Measured from the kill:

- ``leases_cleared_s``: until no run has ``lease_node`` = the victim (polled every 20 ms);
- ``resumed_s``: until each of those runs has a step attempt started after the kill (its
  ``started_at``, stamped by the node that started it; only another node can, the victim
  is dead), or has ended; ``first_resumed_s``: the first of them.

A fresh database and three fresh nodes per trial; medians and maxima over the trials.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.harness import Api, BenchError, median, shell_template, ts
from bench.nodes import Nodes
from bench.sizes import Sizes

ENDED = ("completed", "failed", "cancelled")
POLL = 0.02


def _iso(t: float) -> str:
    """The daemons' own timestamp format (fixed width, so strings order as times)."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Db:
    """The bench's own connection to the cluster's database (autocommit: every read sees
    the latest commits)."""

    def __init__(self, url: str) -> None:
        import psycopg

        self.conn = psycopg.connect(url, autocommit=True)

    def rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        return self.conn.execute(sql, params).fetchall()  # type: ignore[arg-type]

    def held(self, node: str, running_only: bool = False) -> list[str]:
        sql = ("SELECT id FROM runs WHERE lease_node = %s AND status NOT IN"
               " ('completed', 'failed', 'cancelled')")
        if running_only:
            sql += " AND status = 'running'"
        return [r[0] for r in self.rows(sql, (node,))]

    def resumed(self, run_ids: list[str], since: str) -> dict[str, str]:
        """run id -> when it went on after ``since``: its first step attempt started then,
        or its end if it ended with none."""
        out = dict(self.rows(
            "SELECT run_id, min(started_at) FROM step_attempts WHERE run_id = ANY(%s)"
            " AND started_at >= %s GROUP BY run_id", (run_ids, since)))
        for run_id, status, finished in self.rows(
                "SELECT id, status, finished_at FROM runs WHERE id = ANY(%s)", (run_ids,)):
            if run_id not in out and status in ENDED and finished:
                out[run_id] = finished
        return out

    def close(self) -> None:
        self.conn.close()


async def _load(api: Api, rate: float, started: list[str]) -> None:
    """A run every 1/rate seconds until cancelled (each POST on its own, so a slow one
    does not hold the next back)."""
    pending: set[asyncio.Task] = set()

    async def one() -> None:
        started.append((await api.start("load"))["id"])

    try:
        nxt = time.monotonic()
        while True:
            task = asyncio.create_task(one())
            pending.add(task)
            task.add_done_callback(pending.discard)
            nxt += 1 / rate
            await asyncio.sleep(max(0.0, nxt - time.monotonic()))
    finally:
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


async def once(workdir: Path, sz: Sizes, trial: int) -> dict:
    cluster = Nodes(workdir, f"takeover-{trial}",
                    WFE_LEASE_SECONDS=str(sz.takeover_lease_s),
                    WFE_HEARTBEAT_INTERVAL=str(sz.takeover_heartbeat_s))
    db = None
    try:
        nodes = cluster.start(3)
        db = await asyncio.to_thread(Db, cluster.url)
        api = Api(nodes[0].url, nodes[0].token)
        started: list[str] = []
        load = None
        try:
            await api.template(shell_template("load", sz.takeover_steps,
                                              f"sleep {sz.takeover_step_s}"))
            load = asyncio.create_task(_load(api, sz.takeover_rate, started))
            v = 1 + trial % 2
            victim, name = nodes[v], f"n{v + 1}"
            # A steady state: the load has run for a while and the victim is mid-run.
            settle = time.monotonic() + sz.takeover_settle_s
            deadline = settle + 60
            while (time.monotonic() < settle or len(
                    await asyncio.to_thread(db.held, name, True)) < sz.takeover_min_held):
                if time.monotonic() > deadline:
                    raise BenchError(f"node {name} held too few runs to kill it")
                if load.done():
                    load.result()
                await asyncio.sleep(0.1)
            t_kill = time.time()
            victim.kill9()
            held = await asyncio.to_thread(db.held, name)
            since = _iso(t_kill)
            t_cleared = None
            resumed: dict[str, str] = {}
            deadline = time.monotonic() + 4 * sz.takeover_lease_s + 60
            while True:
                now = time.time()
                if t_cleared is None and not await asyncio.to_thread(db.held, name):
                    t_cleared = now
                resumed = await asyncio.to_thread(db.resumed, held, since)
                if t_cleared is not None and len(resumed) == len(held):
                    break
                if time.monotonic() > deadline:
                    raise BenchError(f"{len(held) - len(resumed)} of the {len(held)} runs "
                                     f"node {name} held did not go on")
                if load.done():
                    load.result()
                await asyncio.sleep(POLL)
            times = sorted(ts(v) - t_kill for v in resumed.values())
        finally:
            if load is not None:
                load.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await load
            await api.close()
        return {"victim": name, "held": len(held), "started": len(started),
                "leases_cleared_s": t_cleared - t_kill,
                "first_resumed_s": times[0] if times else None,
                "resumed_s": times[-1] if times else t_cleared - t_kill}
    finally:
        if db is not None:
            db.close()
        cluster.close()


async def run(workdir: Path, sz: Sizes) -> dict:
    trials = [await once(workdir, sz, t) for t in range(sz.takeover_trials)]
    keys = ("held", "leases_cleared_s", "first_resumed_s", "resumed_s")
    return {"lease_s": sz.takeover_lease_s, "heartbeat_s": sz.takeover_heartbeat_s,
            "median": {k: median(t[k] for t in trials) for k in keys},
            "max": {k: max((t[k] for t in trials if t[k] is not None), default=None)
                    for k in keys},
            "trials": trials}
