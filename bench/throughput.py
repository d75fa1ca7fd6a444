"""Throughput: N runs x K no-op ``set`` steps, all started through the API at once.

The window is from the first ``POST`` sent to the last run's ``finished_at``. A few runs go
through first (not counted), so first-time costs — imports, parsing the template — are not
in the figure. The daemon's CPU seconds over the window say what each step costs whatever
the machine's noise.
"""

from __future__ import annotations

import time
from pathlib import Path

from bench.harness import median, noop_template, running_daemon, ts
from bench.sizes import Sizes

WARMUP = 5


async def once(workdir: Path, sz: Sizes, rep: int) -> dict:
    async with running_daemon(workdir, f"throughput-{rep}", sz.post_connections) as (d, api):
        await api.template(noop_template("noop", sz.steps))
        await api.start_many("noop", WARMUP)
        await api.wait_count("completed", WARMUP, 60)
        cpu0 = d.cpu_s()
        t0 = time.time()
        runs = await api.start_many("noop", sz.runs)
        posted = time.time() - t0
        await api.wait_count("completed", WARMUP + sz.runs, timeout=300, interval=0.05)
        cpu = d.cpu_s() - cpu0
        ids = {r["id"] for r in runs}
        done = [r for r in await api.all_runs("completed") if r["id"] in ids]
        window = max(ts(r["finished_at"]) for r in done) - t0
        steps = sz.runs * sz.steps
        return {"window_s": window, "steps_per_s": steps / window, "runs_per_s": sz.runs / window,
                "post_s": posted, "posts_per_s": sz.runs / posted,
                "daemon_cpu_us_per_step": cpu / steps * 1e6, "rss_mb": d.rss_mb()}


def summarize(reps: list[dict]) -> dict:
    keys = reps[0].keys()
    return {"median": {k: median(r[k] for r in reps) for k in keys}, "reps": reps}
