"""`foreach` steps: a burst of concurrent items, and items/s against a chain of shell steps.

Three measurements on one fresh daemon, each after a warm-up run, one run at a time:

- **burst**: one run whose only step is a `foreach` of N items with ``concurrency: N``, each
  ``run: "sleep S"``. The step's wall time is its ``finished_at - started_at`` (both recorded
  by the daemon): the list stored, N item starts committed, N spawns, N results committed.
- **items**: a `foreach` of M items of ``run: "true"`` at ``concurrency: C``; items/s = M
  over the step's wall time.
- **set items**: a `foreach` of M items of a no-op ``set`` at ``concurrency: M``; items/s =
  M over the step's wall time. The report sets it against the throughput scenario's durable
  steps/s (the same no-op ``set`` steps, as separate runs) when both ran.
- **chain**: the baseline, measured in the same minutes (alternating with ``items``, rep by
  rep): one run of K ``run: "true"`` steps one after another; steps/s = K over the time from
  the first step's ``started_at`` to the last one's ``finished_at``. Each step is one spawn
  and three commits, with nothing beside it: the latency of a shell step, end to end.
  Beside it, ``raw_seq_spawns_per_s``: K spawns of what a `run` step spawns, one after
  another, from the bench process (bench.shell's reference with one task).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from bench.harness import BenchError, median, running_daemon, ts
from bench.shell import raw_spawn_rate
from bench.sizes import Sizes

WARMUP = 1


def burst_template(n: int, sleep_s: float) -> dict:
    return {"name": "burst", "steps": [{"name": "each", "foreach": list(range(n)),
                                        "concurrency": n, "run": f"sleep {sleep_s:g}"}]}


def items_template(n: int, concurrency: int) -> dict:
    return {"name": "items", "steps": [{"name": "each", "foreach": list(range(n)),
                                        "concurrency": concurrency, "run": "true"}]}


def set_items_template(n: int) -> dict:
    """What the throughput scenario's steps are (a no-op ``set``), as one step's items."""
    return {"name": "set-items", "steps": [{"name": "each", "foreach": list(range(n)),
                                            "concurrency": n, "set": {"i": "${{ item }}"}}]}


def chain_template(n: int) -> dict:
    return {"name": "chain", "steps": [{"name": f"s{i}", "run": "true"} for i in range(n)]}


async def _finished(api, template: str, timeout: float = 300) -> dict:
    """Start one run and wait for its end (polled every 20 ms; the times are the daemon's)."""
    run = await api.start(template)
    deadline = time.monotonic() + timeout
    while run["status"] not in ("completed", "failed", "cancelled"):
        if time.monotonic() > deadline:
            raise BenchError(f"run {run['id']} of {template} is still {run['status']}")
        await asyncio.sleep(0.02)
        run = await api.get(f"/api/v1/workflows/{run['id']}")
    if run["status"] != "completed":
        raise BenchError(f"run {run['id']} of {template} is {run['status']}")
    return run


def _span(steps: list[dict]) -> float:
    return ts(steps[-1]["finished_at"]) - ts(steps[0]["started_at"])


async def run(workdir: Path, sz: Sizes) -> dict:
    n, sleep_s = sz.foreach_burst, sz.foreach_sleep_s
    m, conc, k = sz.foreach_items, sz.foreach_concurrency, sz.chain_steps
    async with running_daemon(workdir, "foreach", 4) as (_, api):
        for tpl in (burst_template(n, sleep_s), items_template(m, conc), chain_template(k),
                    set_items_template(m)):
            await api.template(tpl)
            for _ in range(WARMUP):
                await _finished(api, tpl["name"])
        bursts = []
        for _ in range(sz.reps_foreach):
            step = (await _finished(api, "burst"))["steps"][0]
            bursts.append(_span([step]))
        items_rates, chain_rates, raw, set_rates = [], [], [], []
        for _ in range(sz.reps_foreach):
            set_rates.append(m / _span((await _finished(api, "set-items"))["steps"]))
            items_rates.append(m / _span((await _finished(api, "items"))["steps"]))
            chain_rates.append(k / _span((await _finished(api, "chain"))["steps"]))
            raw.append(await raw_spawn_rate(workdir, 1, k))
    ratios = [i / c for i, c in zip(items_rates, chain_rates, strict=True)]
    return {"median": {"burst_step_s": median(bursts),
                       "burst_overhead_s": median(bursts) - sleep_s,
                       "items_per_s": median(items_rates),
                       "chain_steps_per_s": median(chain_rates),
                       "items_vs_chain": median(ratios),
                       "raw_seq_spawns_per_s": median(raw),
                       "set_items_per_s": median(set_rates)},
            "reps": {"burst_step_s": bursts, "items_per_s": items_rates,
                     "chain_steps_per_s": chain_rates, "items_vs_chain": ratios,
                     "raw_seq_spawns_per_s": raw, "set_items_per_s": set_rates},
            "burst": n, "sleep_s": sleep_s, "items": m, "concurrency": conc, "chain": k}
