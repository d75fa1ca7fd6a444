"""API: ``GET /api/v1/workflows/{id}`` and the list, with C concurrent clients.

The database holds the throughput workload's completed runs (each with its steps, attempts
and events). C clients, each with its own keep-alive connection, send requests one after
another until the endpoint's share is sent; each request is timed from send to body read.
The load generator is one Python process on the same 2 cores, so its own scheduling is in
the figures (they are upper bounds of what the daemon adds).
"""

from __future__ import annotations

import asyncio
import random
import time

import aiohttp

from bench.harness import Daemon, median, pct


async def _load(url: str, token: str, paths: list[str], clients: int) -> dict:
    lat: list[float] = []
    todo = iter(paths)
    headers = {"Authorization": f"Bearer {token}"}

    async def client() -> None:
        async with aiohttp.ClientSession(base_url=url, headers=headers) as s:
            for path in todo:
                a = time.perf_counter()
                async with s.get(path) as resp:
                    await resp.read()
                    if resp.status != 200:
                        raise RuntimeError(f"GET {path} -> {resp.status}")
                lat.append(time.perf_counter() - a)

    t0 = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    wall = time.perf_counter() - t0
    ms = [v * 1000 for v in lat]
    return {"p50_ms": median(ms), "p99_ms": pct(ms, 99), "max_ms": max(ms),
            "requests_per_s": len(ms) / wall, "requests": len(ms)}


async def _measured(d: Daemon, token: str, paths: list[str], clients: int) -> dict:
    cpu0 = d.cpu_s()
    out = await _load(d.url, token, paths, clients)
    out["daemon_cpu_ms_per_request"] = (d.cpu_s() - cpu0) / len(paths) * 1000
    return out


async def run(d: Daemon, run_ids: list[str], clients: int, requests: int) -> dict:
    rng = random.Random(9)
    one = [f"/api/v1/workflows/{rng.choice(run_ids)}" for _ in range(requests)]
    page = ["/api/v1/workflows"] * requests
    await _load(d.url, d.token, one[: clients * 2], clients)  # warm-up: connections, caches
    return {"get_run": await _measured(d, d.token, one, clients),
            "list_runs": await _measured(d, d.token, page, clients)}
