"""CLI: ``wfe ls --json`` as a whole process (start-up, imports, one request, JSON out),
beside ``python -c pass`` measured the same way in the same run."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench.harness import BenchError, median


def wfe_command() -> list[str]:
    """The console script installed beside this Python, as users run it."""
    script = Path(sys.executable).parent / "wfe"
    if script.exists():
        return [str(script)]
    found = shutil.which("wfe")
    return [found] if found else [sys.executable, "-m", "wfe"]


def _wall(argv: list[str], env: dict[str, str], reps: int) -> float:
    times = []
    for _ in range(reps + 1):  # the first warms the page cache and the .pyc files
        a = time.perf_counter()
        done = subprocess.run(argv, check=False, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
        times.append(time.perf_counter() - a)
        if done.returncode != 0:
            raise BenchError(f"{argv} exited {done.returncode}: {done.stderr[-500:]!r}")
    return median(times[1:]) * 1000


def run(env: dict[str, str], reps: int) -> dict:
    ls = _wall([*wfe_command(), "ls", "--json"], env, reps)
    bare = _wall([sys.executable, "-c", "pass"], env, reps)
    imp = _wall([sys.executable, "-c", "import wfe.cli.main"], env, reps)
    return {"median": {"wfe_ls_json_ms": ls, "python_pass_ms": bare, "import_cli_ms": imp,
                       "over_bare_python_ms": ls - bare},
            "command": [Path(a).name for a in wfe_command()]}
