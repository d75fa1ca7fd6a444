"""Finding and killing step processes that a dead daemon left behind.

A step's processes carry ``WFE_RUN_ID`` and ``WFE_STEP`` in their environment and run in
the process group the step was spawned in. On Linux, /proc tells which processes are
still alive with those markers, so a recycled pgid is never killed by mistake.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

PROC = Path("/proc")


def _environ(pid: int) -> dict[str, str]:
    try:
        raw = (PROC / str(pid) / "environ").read_bytes()
    except OSError:
        return {}
    out = {}
    for item in raw.split(b"\0"):
        key, sep, value = item.partition(b"=")
        if sep and key.startswith(b"WFE_"):
            out[key.decode(errors="replace")] = value.decode(errors="replace")
    return out


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except OSError:
        return None


def step_groups() -> dict[tuple[str, str], set[int]]:
    """Process groups of live step processes, by (run id, step name): one pass over /proc."""
    groups: dict[tuple[str, str], set[int]] = {}
    if not PROC.is_dir():
        return groups
    own = os.getpgid(0)
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        env = _environ(int(entry.name))
        if "WFE_RUN_ID" in env and "WFE_STEP" in env:
            pgid = _pgid(int(entry.name))
            if pgid is not None and pgid != own:
                groups.setdefault((env["WFE_RUN_ID"], env["WFE_STEP"]), set()).add(pgid)
    return groups


def kill_leftovers(attempts: list[dict]) -> list[int]:
    """SIGKILL the groups of interrupted attempts; returns the groups killed."""
    if not attempts:
        return []
    live = step_groups()
    killed = []
    for a in attempts:
        groups = set(live.get((a["run_id"], a["name"]), ()))
        if not PROC.is_dir() and a.get("pgid"):
            groups.add(a["pgid"])  # no /proc to check: trust the recorded group
        for pgid in groups:
            try:
                os.killpg(pgid, signal.SIGKILL)
                killed.append(pgid)
            except OSError:
                pass
    return killed
