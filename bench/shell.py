"""Shell steps: N runs x K ``run: "true"`` steps, beside raw asyncio spawns in the same run.

The baseline spawns what a ``run`` step spawns (``/bin/sh -c true`` in a new session, its
output to a file) with the same shape: N tasks, each K spawns one after another, through
``asyncio.create_subprocess_exec`` with this Python's default child watcher; it is measured
just before and just after the daemon's run, and the mean is the reference.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from pathlib import Path

from bench.harness import median, running_daemon, shell_template, ts
from bench.sizes import Sizes

WARMUP = 3


async def raw_spawn_rate(workdir: Path, tasks: int, each: int) -> float:
    log = workdir / "raw-spawn.log"

    async def worker() -> None:
        for _ in range(each):
            fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                proc = await asyncio.create_subprocess_exec(
                    "/bin/sh", "-c", "true", stdin=subprocess.DEVNULL, stdout=fd,
                    stderr=subprocess.STDOUT, start_new_session=True)
            finally:
                os.close(fd)
            await proc.wait()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(tasks)))
    return tasks * each / (time.perf_counter() - t0)


async def once(workdir: Path, sz: Sizes, rep: int) -> dict:
    before = await raw_spawn_rate(workdir, sz.shell_runs, sz.shell_steps)
    async with running_daemon(workdir, f"shell-{rep}", sz.post_connections) as (_, api):
        await api.template(shell_template("sh", sz.shell_steps))
        await api.start_many("sh", WARMUP)
        await api.wait_count("completed", WARMUP, 60)
        t0 = time.time()
        runs = await api.start_many("sh", sz.shell_runs)
        await api.wait_count("completed", WARMUP + sz.shell_runs, timeout=300, interval=0.05)
        ids = {r["id"] for r in runs}
        done = [r for r in await api.all_runs("completed") if r["id"] in ids]
        window = max(ts(r["finished_at"]) for r in done) - t0
    # The baseline brackets the daemon's run (the machine's noise drifts within seconds).
    raw = (before + await raw_spawn_rate(workdir, sz.shell_runs, sz.shell_steps)) / 2
    steps_per_s = sz.shell_runs * sz.shell_steps / window
    return {"steps_per_s": steps_per_s, "raw_spawns_per_s": raw, "ratio": steps_per_s / raw}


def summarize(reps: list[dict]) -> dict:
    return {"median": {k: median(r[k] for r in reps) for k in reps[0]}, "reps": reps}
