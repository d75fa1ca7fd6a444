"""Recovery: ``kill -9`` with N runs in flight, then start the daemon again on the same home.

The throughput workload (N runs x K no-op steps) is started. Runs finish while others are
still being posted, so more are posted until about N are in flight (posted, not completed);
then the daemon is killed, with every ``POST`` answered 201. "In flight" is exact: the runs
whose ``finished_at`` is after the kill. Times run from the new process's start: until
``GET /api/v1/health`` answers, and until every run is completed.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp

from bench.harness import Api, BenchError, Daemon, fresh_home, median, noop_template, ts
from bench.sizes import Sizes

TOP_UPS = 4


async def _first_answer(d: Daemon, timeout: float = 30.0) -> float:
    """Seconds from Popen until the health endpoint answers 200."""
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as s:
        while time.monotonic() < deadline:
            if not d.read_url():
                await asyncio.sleep(0.001)
                continue
            try:
                async with s.get(d.url + "/api/v1/health") as resp:
                    if resp.status == 200:
                        return time.monotonic() - d.started
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.001)
    raise BenchError("the restarted daemon never answered")


async def once(workdir: Path, sz: Sizes, rep: int) -> dict:
    d = Daemon(fresh_home(workdir, f"recovery-{rep}")).start()
    api = Api(d.url, d.token, sz.post_connections)
    try:
        await api.template(noop_template("noop", sz.steps))
        runs = await api.start_many("noop", sz.recovery_runs)
        for _ in range(TOP_UPS):
            deficit = sz.recovery_runs - (len(runs) - await api.count("completed"))
            if deficit <= sz.recovery_runs // 50:
                break
            runs += await api.start_many("noop", deficit)
    finally:
        await api.close()
    d.kill9()
    killed_at = time.time()
    d.spawn()
    answer_s = await _first_answer(d)
    api = Api(d.url, d.token, sz.post_connections)
    try:
        await api.wait_count("completed", len(runs), timeout=300, interval=0.01)
        ids = {r["id"] for r in runs}
        done = [r for r in await api.all_runs("completed") if r["id"] in ids]
        in_flight = sum(ts(r["finished_at"]) > killed_at for r in done)
        last = max(ts(r["finished_at"]) for r in done)
    finally:
        await api.close()
        d.stop()
    return {"in_flight": in_flight, "posted": len(runs), "api_answers_s": answer_s,
            "all_completed_s": last - d.started_wall}


def summarize(reps: list[dict]) -> dict:
    return {"median": {k: median(r[k] for r in reps) for k in reps[0]}, "reps": reps}
