"""``python -m bench [--quick | --smoke] [--only a,b] [--reps N] [--md PATH] [--json PATH]``

Runs each scenario against real daemon processes (a fresh ``WFE_HOME`` each) and writes the
results as JSON and as tables in BENCHMARKS.md. A scenario that cannot be measured is
reported as failed; the others still run. ``scaleout`` and ``takeover`` run several daemons
on a PostgreSQL server (bench/pgserver.py says which); without one they are skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shlex
import sys
import tempfile
import time
import traceback
from dataclasses import replace
from pathlib import Path

from bench import (
    api_load,
    churn,
    cli_time,
    dbos_side,
    foreach,
    harness,
    latency,
    parallel,
    parked,
    pgserver,
    recovery,
    report,
    scaleout,
    schedules,
    shell,
    takeover,
    throughput,
)
from bench.harness import REPO, BenchError, noop_template, running_daemon
from bench.sizes import BY_NAME

SCENARIOS = ("throughput", "latency", "shell", "api", "parked", "recovery", "cli",
             "parallel", "foreach", "schedules", "churn", "scaleout", "takeover")
NEED_POSTGRES = ("scaleout", "takeover")
NO_DBOS = "dbos is not importable here: install the `bench` extra (pip install -e '.[bench]')"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[1])
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_const", dest="sizes", const="quick",
                      help="smaller sizes, one repetition (about a minute)")
    size.add_argument("--smoke", action="store_const", dest="sizes", const="smoke",
                      help="tiny sizes: checks the suite works, measures nothing")
    p.add_argument("--only", default=",".join(SCENARIOS),
                   help=f"comma-separated scenarios (default all: {','.join(SCENARIOS)})")
    p.add_argument("--reps", type=int, help="repetitions of the cheap scenarios")
    p.add_argument("--no-dbos", action="store_true", help="skip the DBOS side by side")
    p.add_argument("--md", help="Markdown file to update (default BENCHMARKS.md for full "
                                "sizes, none otherwise; '-' for none)")
    p.add_argument("--json", help="JSON file to write (default bench/results-SIZES.json)")
    p.add_argument("--workdir", help="where the daemons' homes go (default a temp dir)")
    p.add_argument("--repo", help="run the wfe of this tree (to compare a change; default: "
                                  "this checkout)")
    p.set_defaults(sizes="full")
    args = p.parse_args(argv)
    unknown = set(args.only.split(",")) - set(SCENARIOS)
    if unknown:
        p.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    return args


async def _guarded(name: str, results: dict, coro) -> None:
    t0 = time.monotonic()
    print(f"[bench] {name} ...", file=sys.stderr, flush=True)
    try:
        results[name] = await coro
    except (BenchError, OSError, TimeoutError, RuntimeError, *pgserver.ERRORS) as exc:
        traceback.print_exc()
        results[name] = {"error": f"{type(exc).__name__}: {exc}"}
    print(f"[bench] {name} done in {time.monotonic() - t0:.1f}s", file=sys.stderr, flush=True)


async def _throughput(work: Path, sz, with_dbos: bool, results: dict) -> dict:
    """wfe and DBOS in turn, rep after rep, so both see the same noise."""
    wfe_reps, dbos_reps = [], []
    for rep in range(sz.reps):
        wfe_reps.append(await throughput.once(work, sz, rep))
        if with_dbos:
            dbos_reps.append(await dbos_side.once(work, "start", sz.runs, sz.steps, rep))
    if with_dbos:
        results["dbos"] = throughput.summarize(dbos_reps) | {
            "version": dbos_side.available(), "mode": "start_workflow for all, then wait; WAL"}
    return throughput.summarize(wfe_reps)


async def _latency(work: Path, sz, with_dbos: bool, results: dict) -> dict:
    out = await latency.run(work, sz)
    if with_dbos:
        seq = await dbos_side.once(work, "seq", max(sz.latency_runs, 2) * 2, sz.steps, 0)
        results["dbos_seq"] = {"median": {"latency_ms_p50": seq["latency_ms_p50"],
                                          "steps_per_s": seq["steps_per_s"]}}
    return out


async def _api_and_cli(work: Path, sz, names: set[str], results: dict) -> None:
    """One daemon holding the throughput workload's completed runs serves both."""
    async with running_daemon(work, "api", sz.post_connections) as (d, api):
        await api.template(noop_template("noop", sz.steps))
        runs = await api.start_many("noop", sz.api_runs)
        await api.wait_count("completed", sz.api_runs, timeout=300, interval=0.1)
        if "api" in names:
            await _guarded("api", results, api_load.run(
                d, [r["id"] for r in runs], sz.api_clients, sz.api_requests))
        if "cli" in names:
            env = dict(d.env)
            await _guarded("cli", results, asyncio.to_thread(cli_time.run, env, sz.cli_reps))


async def run_all(args: argparse.Namespace, work: Path) -> dict:
    sz = BY_NAME[args.sizes]
    if args.reps:
        sz = replace(sz, reps=args.reps)
    names = set(args.only.split(","))
    dbos_version = None if args.no_dbos else dbos_side.available()
    results: dict = {"command": ("python -m bench " + shlex.join(sys.argv[1:])).strip(),
                     "wfe_repo": harness.WFE_REPO.name,  # a name, not a path of this machine
                     "machine": report.machine(), "sizes": report.sizes_dict(sz)}
    if not args.no_dbos and dbos_version is None and names & {"throughput", "latency",
                                                             "scaleout"}:
        results["dbos"] = {"skipped": NO_DBOS}
        print(f"[bench] DBOS side by side skipped: {NO_DBOS}", file=sys.stderr)
    with_dbos = dbos_version is not None
    if "throughput" in names:
        await _guarded("throughput", results, _throughput(work, sz, with_dbos, results))
    if "latency" in names:
        await _guarded("latency", results, _latency(work, sz, with_dbos, results))
    if "shell" in names:
        async def sh():
            return shell.summarize([await shell.once(work, sz, rep) for rep in range(sz.reps)])
        await _guarded("shell", results, sh())
    if names & {"api", "cli"}:
        await _guarded("api+cli daemon", results, _api_and_cli(work, sz, names, results))
        results.pop("api+cli daemon", None)
    if "parked" in names:
        await _guarded("parked", results, parked.run(work, sz))
    if "recovery" in names:
        async def rec():
            return recovery.summarize([await recovery.once(work, sz, r) for r in range(sz.reps)])
        await _guarded("recovery", results, rec())
    if "parallel" in names:
        await _guarded("parallel", results, parallel.run(work, sz))
    if "foreach" in names:
        await _guarded("foreach", results, foreach.run(work, sz))
    if "schedules" in names:
        await _guarded("schedules", results, schedules.run(work, sz))
    if "churn" in names:
        await _guarded("churn", results, churn.run(work, sz))
    if names & set(NEED_POSTGRES):
        no_pg = pgserver.unavailable()
        for name in (n for n in NEED_POSTGRES if n in names):
            if no_pg:
                results[name] = {"skipped": no_pg}
                print(f"[bench] {name} skipped: {no_pg}", file=sys.stderr)
            elif name == "scaleout":
                await _guarded(name, results, scaleout.run(work, sz, with_dbos))
            else:
                await _guarded(name, results, takeover.run(work, sz))
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.repo:
        harness.WFE_REPO = Path(args.repo).resolve()
    if args.workdir:
        work = Path(args.workdir)
        work.mkdir(parents=True, exist_ok=True)
        results = asyncio.run(run_all(args, work))
    else:
        with tempfile.TemporaryDirectory(prefix="wfe-bench-") as tmp:
            results = asyncio.run(run_all(args, Path(tmp)))
    json_path = Path(args.json) if args.json else REPO / "bench" / f"results-{args.sizes}.json"
    json_path.write_text(json.dumps(results, indent=2) + "\n")
    md = args.md or ("BENCHMARKS.md" if args.sizes == "full" else "-")
    if md != "-":
        report.write_markdown(REPO / md if not Path(md).is_absolute() else Path(md), results)
    print(report.markdown(results))
    failed = [k for k, v in results.items() if isinstance(v, dict) and "error" in v]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
