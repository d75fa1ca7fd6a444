"""Latency: one K-step no-op run at a time, from ``POST`` sent to the run's ``finished_at``.

The client sends nothing while a run executes (it sleeps, then reads the run once), so the
figure is the daemon's alone; both ends read the same clock. Step to step: the gaps between
consecutive steps' ``finished_at`` within a run.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path

from bench.harness import BenchError, median, noop_template, pct, running_daemon, ts
from bench.sizes import Sizes

WARMUP = 5


async def _one(api, template: str) -> dict:
    t0 = time.time()
    run = await api.start(template)
    t_created = time.time()
    wait = 0.005
    for _ in range(400):
        await asyncio.sleep(wait)
        run = await api.get(f"/api/v1/workflows/{run['id']}")
        if run["status"] == "completed":
            break
        wait = min(wait * 2, 0.05)
    else:
        raise BenchError(f"run {run['id']} is still {run['status']}")
    ends = [ts(s["finished_at"]) for s in run["steps"]]
    return {"latency_ms": (ts(run["finished_at"]) - t0) * 1000,
            "post_ms": (t_created - t0) * 1000,
            "first_step_ms": (ends[0] - t0) * 1000,
            "gaps_ms": [(b - a) * 1000 for a, b in itertools.pairwise(ends)]}


async def run(workdir: Path, sz: Sizes) -> dict:
    async with running_daemon(workdir, "latency", 4) as (_, api):
        await api.template(noop_template("noop", sz.steps))
        for _ in range(WARMUP):
            await _one(api, "noop")
        samples = [await _one(api, "noop") for _ in range(sz.latency_runs)]
    gaps = [g for s in samples for g in s["gaps_ms"]]
    lat = [s["latency_ms"] for s in samples]
    return {"median": {
        "latency_ms_p50": median(lat), "latency_ms_p99": pct(lat, 99),
        "post_ms_p50": median(s["post_ms"] for s in samples),
        "first_step_ms_p50": median(s["first_step_ms"] for s in samples),
        "step_gap_ms_p50": median(gaps), "step_gap_ms_p99": pct(gaps, 99)},
        "runs": len(samples), "latency_ms": lat}
