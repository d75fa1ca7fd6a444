"""Where the daemon's time goes under the throughput workload: py-spy, summarised per thread.

``python -m bench.profile [--runs N] [--steps K] [--scenario throughput|shell|api|foreach]
[--out DIR]`` (foreach: N runs one at a time, each a `foreach` of K ``sleep 1`` items at
concurrency K, bench.foreach's burst)

py-spy (``pip install py-spy``) attaches to a fresh daemon after its warm-up and samples it
(``--nonblocking``, so the daemon is not paused) while the scenario's load runs; idle
threads (blocked in epoll, a queue, a lock) are left out, so the counts are where the CPU
went. The raw collapsed stacks go to DIR/profile.txt (for flamegraph tools); the summary —
per thread, the functions with the most samples on the stack (inclusive) and at its top
(self) — is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

from bench import api_load, foreach, harness
from bench.harness import BenchError, noop_template, running_daemon, shell_template

FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^:]*)(?::\d+)?\)$")


def _short(frame: str) -> str:
    m = FRAME.match(frame)
    if not m:
        return frame
    path = m["file"]
    for marker in ("site-packages/", "/wfe/", "lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            if marker == "/wfe/":
                path = "wfe/" + path
            break
    return f"{m['func']} ({path})"


def summarize(raw: Path, top: int = 25) -> str:
    threads: Counter = Counter()
    inclusive: dict[str, Counter] = defaultdict(Counter)
    self_: dict[str, Counter] = defaultdict(Counter)
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        frames = stack.split(";")
        thread = re.sub(r"\s*\(?0x[0-9a-f]+\)?|\s*\(\d+\)|process \d+:\"[^\"]*\"", "", frames[0])
        thread = thread.strip() or frames[0]
        n = int(count)
        threads[thread] += n
        names = [_short(f) for f in frames[1:]]
        for name in set(names):
            inclusive[thread][name] += n
        if names:
            self_[thread][names[-1]] += n
    total = sum(threads.values())
    out = [f"{total} samples with a thread on CPU"]
    for thread, n in threads.most_common():
        out.append(f"\n== {thread}: {n} samples ({n / total:.0%})")
        out.append("-- inclusive (on the stack)")
        out += [f"{c / n:6.1%}  {name}" for name, c in inclusive[thread].most_common(top)]
        out.append("-- self (top of the stack)")
        out += [f"{c / n:6.1%}  {name}" for name, c in self_[thread].most_common(top)]
    return "\n".join(out)


async def _load(scenario: str, api, d, runs: int, steps: int) -> None:
    if scenario == "api":
        ids = [r["id"] for r in await api.all_runs()]
        rng = random.Random(1)
        await api_load._load(d.url, d.token, [f"/api/v1/workflows/{rng.choice(ids)}"
                                              for _ in range(runs * 5)], 50)
        await api_load._load(d.url, d.token, ["/api/v1/workflows"] * runs * 5, 50)
        return
    if scenario == "burst":
        for _ in range(runs):
            await foreach._finished(api, "burst")
        return
    await api.start_many(scenario, runs)
    await api.wait_count("completed", runs + 5, timeout=600, interval=0.05)


async def profile(scenario: str, runs: int, steps: int, work: Path, rate: int) -> Path:
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():  # noqa: ASYNC240 -- once, before any load is started
        raise BenchError("py-spy is not installed: pip install py-spy")
    raw = work / f"profile-{scenario}.txt"
    async with running_daemon(work, "profiled") as (d, api):
        tpl = {"shell": shell_template("shell", steps),
               "foreach": foreach.burst_template(steps, 1.0)}.get(
                   scenario, noop_template("throughput", steps))
        await api.template(tpl)
        name = tpl["name"]
        if scenario == "api":
            await api.start_many(name, 1000)
            await api.wait_count("completed", 1000, timeout=600, interval=0.1)
        warm = 1 if scenario == "foreach" else 5
        await api.start_many(name, warm)
        await api.wait_count("completed", warm + (1000 if scenario == "api" else 0), 60)
        # Popen only starts py-spy (it does not wait for it): the loop is not blocked
        proc = subprocess.Popen([spy, "record",  # noqa: ASYNC220
                                 "--pid", str(d.pid), "--nonblocking",
                                 "--threads", "--format", "raw", "--rate", str(rate),
                                 "-o", str(raw)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        await asyncio.sleep(1.0)  # let py-spy attach
        t0 = time.monotonic()
        await _load(name if scenario in ("throughput", "foreach") else scenario, api, d,
                    runs, steps)
        print(f"load ran {time.monotonic() - t0:.2f}s", file=sys.stderr)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        if not raw.exists():
            raise BenchError(f"py-spy wrote nothing: {err.decode()[-1000:]}")
    return raw


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    p.add_argument("--scenario", choices=("throughput", "shell", "api", "foreach"),
                   default="throughput")
    p.add_argument("--runs", type=int, default=1000)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--rate", type=int, default=250, help="samples per second")
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--out", help="keep the raw stacks here (default: a temp dir)")
    p.add_argument("--repo", help="profile the wfe of this tree (default: this checkout)")
    args = p.parse_args(argv)
    if args.repo:
        harness.WFE_REPO = Path(args.repo).resolve()
    with tempfile.TemporaryDirectory(prefix="wfe-profile-") as tmp:
        work = Path(args.out or tmp)
        work.mkdir(parents=True, exist_ok=True)
        raw = asyncio.run(profile(args.scenario, args.runs, args.steps, work, args.rate))
        print(summarize(raw, args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
