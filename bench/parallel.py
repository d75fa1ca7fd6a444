"""Parallel branches: one run of N ``run: "sleep S"`` steps, each ``needs: []``.

The steps start side by side, so the run should take about one step's time, not N of them.
Measured from ``POST`` sent to the run's ``finished_at`` (same clock), one run at a time on
a fresh daemon after one warm-up run. ``overhead_s`` is what the run took beyond one sleep:
N process spawns, N log files and N step commits on 2 shared cores.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from bench.harness import BenchError, median, running_daemon, ts
from bench.sizes import Sizes

WARMUP = 1


def template(branches: int, sleep_s: float) -> dict:
    return {"name": "fan", "steps": [
        {"name": f"b{i}", "run": f"sleep {sleep_s:g}", "needs": []} for i in range(branches)]}


async def _one(api, sleep_s: float) -> dict:
    t0 = time.time()
    run = await api.start("fan")
    wait = min(sleep_s / 2, 0.05)
    deadline = time.monotonic() + 120
    while run["status"] not in ("completed", "failed", "cancelled"):
        if time.monotonic() > deadline:
            raise BenchError(f"run {run['id']} is still {run['status']}")
        await asyncio.sleep(wait)
        run = await api.get(f"/api/v1/workflows/{run['id']}")
    if run["status"] != "completed":
        raise BenchError(f"run {run['id']} is {run['status']}")
    total = ts(run["finished_at"]) - t0
    starts = sorted(ts(s["started_at"]) for s in run["steps"])
    return {"total_s": total, "overhead_s": total - sleep_s,
            "start_spread_s": starts[-1] - starts[0]}


async def run(workdir: Path, sz: Sizes) -> dict:
    branches, sleep_s = sz.parallel_branches, sz.parallel_sleep_s
    async with running_daemon(workdir, "parallel", 4) as (_, api):
        await api.template(template(branches, sleep_s))
        for _ in range(WARMUP):
            await _one(api, sleep_s)
        reps = [await _one(api, sleep_s) for _ in range(sz.reps)]
    return {"median": {k: median(r[k] for r in reps) for k in reps[0]},
            "reps": reps, "branches": branches, "sleep_s": sleep_s}
