"""Finding and killing step processes that a dead daemon left behind.

An attempt records its leader's pid (its session and process group) when it spawns, and
the daemon records the processes it saw the step start while it ran (pid and start time,
so a reused pid is never mistaken for one). At recovery a process is the interrupted
attempt's when it is in that session or group, is one of those recorded processes, still
carries the step's ``WFE_RUN_ID`` and ``WFE_STEP``, or descends from any of these.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal

from wfe.daemon.reaper import Proc, in_tree, marker, proc_table


def leftovers(attempts: list[dict], table: dict[int, Proc]) -> list[int]:
    """The pids of live processes that belong to the interrupted attempts."""
    steps = {(a["run_id"], a["name"]) for a in attempts}
    roots = {a["pgid"] for a in attempts if a.get("pgid")}
    members: set[tuple[int, int]] = set()
    for a in attempts:
        members |= {(pid, start) for pid, start in json.loads(a.get("procs") or "[]")}
    for p in table.values():
        found = marker(p.pid)
        if found is not None and found[:2] in steps:
            members.add((p.pid, p.start))
    # A recorded group counts only while a process known to be the step's is in it: a
    # group id alone may have been recycled since.
    known = [p for p in table.values() if (p.pid, p.start) in members]
    roots = {r for r in roots if any(r in (p.sid, p.pgid) for p in known)}
    me, own_sid = os.getpid(), os.getsid(0)
    return [p.pid for p in table.values()
            if p.pid != me and p.sid != own_sid and p.state != "Z"
            and in_tree(table, p, roots, members)]


def kill_leftovers(attempts: list[dict]) -> list[int]:
    """SIGKILL every process of interrupted attempts; returns the pids killed."""
    if not attempts:
        return []
    killed = []
    for pid in leftovers(attempts, proc_table()):
        try:
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
        except OSError:
            pass
    if not killed and not os.path.isdir("/proc"):  # no /proc to look in: trust the groups
        for a in attempts:
            if a.get("pgid"):
                with contextlib.suppress(OSError):
                    os.killpg(a["pgid"], signal.SIGKILL)
    return killed
