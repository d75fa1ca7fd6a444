"""Schedules: idle ones cost rows, not Runners or memory; due ones fire on time.

On one fresh daemon, in order:

- **idle**: N schedules created over the API (``every: 1d``, offsets spread over the day and
  none due within the hour), 64 requests at a time. RSS is read after a warm-up (a few
  schedules created and deleted) and again once all N exist and the timer has looked at
  them; ``live_runners`` comes from ``/health``, and the daemon's CPU over a few idle
  seconds shows whether the timer loop churns through them.
- **due**: with the N idle schedules still there, M more are created due in the same second
  T (``every: 1h`` with ``offset`` = T mod 1 h), a few seconds ahead. Lateness of a fire =
  its run's ``created_at`` (stamped in the transaction that fires it) minus its nominal time
  (``scheduled_for``, = T); ``start`` = the run's first step's ``started_at`` minus T.
  Repeated ``reps`` times at a new T; the median of the rounds' percentiles is quoted.
"""

from __future__ import annotations

import asyncio
import math
import time
from pathlib import Path

from bench.harness import Api, BenchError, median, pct, running_daemon, ts
from bench.sizes import Sizes

TEMPLATE = {"name": "tick", "steps": [{"name": "one", "set": {"ok": "yes"}}]}
DAY, HOUR = 86_400, 3_600
WARMUP = 20
LEAD_S = 3.0  # how far ahead the due schedules are set: creating them must fit in it
IDLE_CPU_S = 3.0
QUIET_S = 1.0  # after T, before the first look at the runs


async def _create(api: Api, bodies: list[dict]) -> list[str]:
    made = await asyncio.gather(*(api.post("/api/v1/schedules", expect=201, json=b)
                                  for b in bodies))
    return [s["id"] for s in made]


def _idle_bodies(n: int, now: float, tag: str) -> list[dict]:
    """Offsets spread over the day, the first due an hour from now."""
    base = now % DAY
    return [{"template": "tick", "name": f"{tag}-{i}", "every": DAY,
             "offset": (base + HOUR + i * (DAY - 2 * HOUR) / max(n, 1)) % DAY}
            for i in range(n)]


async def _idle(d, api: Api, n: int) -> dict:
    warm = await _create(api, _idle_bodies(WARMUP, time.time(), "warm"))
    await asyncio.gather(*(api.call("DELETE", f"/api/v1/schedules/{s}", expect=204)
                           for s in warm))
    await asyncio.sleep(0.5)
    rss0 = d.rss_mb()
    t0 = time.perf_counter()
    await _create(api, _idle_bodies(n, time.time(), "idle"))
    create_s = time.perf_counter() - t0
    total = (await api.get("/api/v1/schedules?limit=1"))["total"]
    if total != n:
        raise BenchError(f"{total} schedules listed, {n} created")
    await asyncio.sleep(1.5)  # a timer pass or more (timer_max_sleep is 1 s)
    rss1 = d.rss_mb()
    live = (await api.health())["live_runners"]
    cpu0 = d.cpu_s()
    await asyncio.sleep(IDLE_CPU_S)
    idle_cpu = (d.cpu_s() - cpu0) / IDLE_CPU_S
    if await api.count():
        raise BenchError("an idle schedule started a run")
    return {"rss_before_mb": rss0, "rss_idle_mb": rss1, "extra_rss_mb": rss1 - rss0,
            "live_runners": live, "create_s": create_s, "creates_per_s": n / create_s,
            "idle_cpu_pct": 100 * idle_cpu}


async def _due_round(api: Api, m: int, tag: str) -> dict:
    due = math.ceil(time.time() + LEAD_S)
    ids = set(await _create(api, [{"template": "tick", "name": f"{tag}-{i}", "every": HOUR,
                                   "offset": due % HOUR} for i in range(m)]))
    if time.time() >= due:
        raise BenchError(f"creating {m} schedules took longer than {LEAD_S}s")
    # Quiet until the fires are done: a poll reads every run, on the loop the timer shares.
    await asyncio.sleep(max(0.0, due - time.time()) + QUIET_S)
    deadline = due + 60
    while True:
        runs = [r for r in await api.all_runs() if r["schedule_id"] in ids]
        if len(runs) >= m and all(r["status"] == "completed" for r in runs):
            break
        if time.time() > deadline:
            raise BenchError(f"{len(runs)}/{m} due schedules fired by T+60s")
        await asyncio.sleep(0.2)
    late = [1000 * (ts(r["created_at"]) - ts(r["scheduled_for"])) for r in runs]
    if any(abs(ts(r["scheduled_for"]) - due) > 1e-3 for r in runs):
        raise BenchError("a run's scheduled_for is not the time it was set for")
    starts = []
    for r in runs:
        full = await api.get(f"/api/v1/workflows/{r['id']}")
        starts.append(1000 * (ts(full["steps"][0]["started_at"]) - due))
    # min: how late the timer began to fire; max - min: how long the one transaction took
    return {"late_ms_min": min(late), "late_ms_p50": pct(late, 50), "late_ms_p99": pct(late, 99),
            "late_ms_max": max(late), "early": sum(v < 0 for v in late),
            "start_ms_p50": pct(starts, 50), "start_ms_p99": pct(starts, 99)}


async def run(workdir: Path, sz: Sizes) -> dict:
    async with running_daemon(workdir, "schedules", 64) as (d, api):
        await api.template(TEMPLATE)
        idle = await _idle(d, api, sz.idle_schedules)
        rounds = [await _due_round(api, sz.due_schedules, f"due{k}") for k in range(sz.reps)]
        idle["rss_after_fires_mb"] = d.rss_mb()
    due = {k: median(r[k] for r in rounds) for k in rounds[0]}
    return {"median": idle | due, "rounds": rounds, "idle": sz.idle_schedules,
            "due": sz.due_schedules}
