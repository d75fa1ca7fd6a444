"""What every scenario shares: a real daemon in a subprocess, an aiohttp load client, stats.

The daemon runs exactly as a user runs it (``python -m wfe.daemon --port 0``) in a fresh
``WFE_HOME`` with the default settings; only the log level is lowered. Times measured on
the daemon's side (``finished_at``) and on the client's side (``time.time()``) share the
machine's clock, so "POST sent -> run finished" needs no polling precision.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

import aiohttp

REPO = Path(__file__).resolve().parent.parent
# Whose wfe the daemons run: this checkout, or another tree (``--repo``) to compare a change.
WFE_REPO = REPO
CLK_TCK = os.sysconf("SC_CLK_TCK")


class BenchError(RuntimeError):
    """A scenario could not be measured (the daemon died, a run failed, a wait timed out)."""


# ---- statistics ---------------------------------------------------------------------------

def median(values) -> float | None:
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def pct(values, p: float) -> float | None:
    """The p-th percentile (nearest rank), p in 0..100."""
    values = sorted(values)
    if not values:
        return None
    rank = max(1, min(len(values), int(-(-p * len(values) // 100))))
    return values[rank - 1]


def ts(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()  # 3.11 reads the trailing Z


# ---- the daemon as a real process ---------------------------------------------------------

def daemon_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WFE_")}
    env.update({"WFE_HOME": str(home), "WFE_NO_AUTOSTART": "1", "WFE_LOG_LEVEL": "WARNING",
                "PYTHONPATH": str(WFE_REPO)})
    env.update(extra)
    return env


class Daemon:
    """One daemon process on its own home; start, kill -9 and start again on the same home."""

    def __init__(self, home: Path, **extra_env: str) -> None:
        self.home = home
        self.env = daemon_env(home, **extra_env)
        self.proc: subprocess.Popen | None = None
        self.url = ""
        self.started = 0.0  # time.monotonic() just before the last Popen
        self.started_wall = 0.0  # time.time() at the same moment

    @property
    def token(self) -> str:
        return (self.home / "token").read_text().strip()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def spawn(self, prefix: list[str] | None = None) -> None:
        """Start the process without waiting; ``prefix`` wraps it (e.g. a profiler)."""
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "daemon.json").unlink(missing_ok=True)
        self.url = ""
        self.started, self.started_wall = time.monotonic(), time.time()
        with open(self.home.parent / f"{self.home.name}.log", "ab") as log:
            self.proc = subprocess.Popen(
                [*(prefix or []), sys.executable, "-m", "wfe.daemon", "--port", "0"],
                env=self.env, stdout=log, stderr=log, start_new_session=True, cwd=WFE_REPO)

    def read_url(self) -> str:
        """The URL from daemon.json once this process wrote it, else ""."""
        if self.proc.poll() is not None:
            raise BenchError(f"the daemon exited with {self.proc.returncode}: {self.log()}")
        try:
            info = json.loads((self.home / "daemon.json").read_text())
        except (OSError, ValueError):
            return ""
        if info.get("pid") == self.proc.pid:
            self.url = info["url"]
        return self.url

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.read_url():
                return
            if time.monotonic() > deadline:
                raise BenchError(f"the daemon wrote no daemon.json in {timeout}s")
            time.sleep(0.002)

    def start(self, prefix: list[str] | None = None) -> Daemon:
        self.spawn(prefix)
        self.wait_ready()
        return self

    def log(self) -> str:
        try:
            return (self.home.parent / f"{self.home.name}.log").read_text()[-3000:]
        except OSError:
            return ""

    def kill9(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise BenchError("no VmRSS")

    def cpu_s(self) -> float:
        """User + system CPU seconds the daemon has used so far (all its threads)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK


# ---- the load client ----------------------------------------------------------------------

class Api:
    """An aiohttp session with the admin's token, and the few calls the scenarios make."""

    def __init__(self, url: str, token: str, connections: int = 64) -> None:
        self.url = url
        self.headers = {"Authorization": f"Bearer {token}"}
        self.session = aiohttp.ClientSession(
            base_url=url, headers=self.headers,
            connector=aiohttp.TCPConnector(limit=connections, force_close=False),
            timeout=aiohttp.ClientTimeout(total=120))

    async def close(self) -> None:
        await self.session.close()

    async def call(self, method: str, path: str, expect: int = 200, **kw):
        async with self.session.request(method, path, **kw) as resp:
            body = await resp.read()
            if resp.status != expect:
                raise BenchError(f"{method} {path} -> {resp.status}: {body[:300]!r}")
            return json.loads(body) if body else None

    async def get(self, path: str, **kw):
        return await self.call("GET", path, **kw)

    async def post(self, path: str, expect: int = 200, **kw):
        return await self.call("POST", path, expect=expect, **kw)

    async def template(self, spec: dict) -> dict:
        tpl = await self.post("/api/v1/templates", expect=201, json=spec)
        return await self.post(f"/api/v1/templates/{tpl['id']}/publish")

    async def start(self, template: str) -> dict:
        return await self.post("/api/v1/workflows", expect=201,
                               json={"template": template, "input": {}})

    async def start_many(self, template: str, n: int) -> list[dict]:
        return await asyncio.gather(*(self.start(template) for _ in range(n)))

    async def count(self, status: str | None = None) -> int:
        query = f"?limit=1&status={status}" if status else "?limit=1"
        return (await self.get(f"/api/v1/workflows{query}"))["total"]

    async def wait_count(self, status: str, n: int, timeout: float, interval: float = 0.02,
                         fail_on: tuple[str, ...] = ("failed",)) -> float:
        """Poll until ``n`` runs have ``status``; returns time.time() when it was seen."""
        deadline = time.monotonic() + timeout
        while True:
            got = await self.count(status)
            if got >= n:
                return time.time()
            for bad in fail_on:
                if await self.count(bad):
                    raise BenchError(f"a run is {bad} while waiting for {n} {status}")
            if time.monotonic() > deadline:
                raise BenchError(f"only {got}/{n} runs {status} after {timeout}s")
            await asyncio.sleep(interval)

    async def all_runs(self, status: str | None = None) -> list[dict]:
        out, offset = [], 0
        while True:
            query = f"?limit=500&offset={offset}" + (f"&status={status}" if status else "")
            page = await self.get(f"/api/v1/workflows{query}")
            out += page["items"]
            offset += len(page["items"])
            if not page["items"] or offset >= page["total"]:
                return out

    async def health(self) -> dict:
        return await self.get("/api/v1/health")


def fresh_home(workdir: Path, name: str) -> Path:
    """A home no earlier daemon used (a reused --workdir must not count old runs)."""
    home, n = workdir / name, 1
    while home.exists():
        n += 1
        home = workdir / f"{name}-{n}"
    return home


@asynccontextmanager
async def running_daemon(workdir: Path, name: str, connections: int = 64, **env: str):
    """A fresh daemon and a client for it; stopped (SIGTERM) on the way out."""
    d = Daemon(fresh_home(workdir, name), **env).start()
    api = Api(d.url, d.token, connections)
    try:
        yield d, api
    finally:
        await api.close()
        d.stop()


def noop_template(name: str, steps: int) -> dict:
    return {"name": name, "steps": [{"name": f"s{i}", "set": {"i": str(i)}}
                                    for i in range(steps)]}


def shell_template(name: str, steps: int, command: str = "true") -> dict:
    return {"name": name, "steps": [{"name": f"s{i}", "run": command} for i in range(steps)]}
