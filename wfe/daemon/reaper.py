"""Every process a step starts, found and killed when the step ends, even one that left.

A step runs in its own session and process group, but ``setsid``, a double fork or a daemon
leaves both. So the daemon follows the process tree: a /proc scan, repeated while steps run,
adds to each attempt's set every process whose session or group is the step's, or whose
chain of parents reaches the step's leader or a process already in the set. The daemon is a
child subreaper (Linux), so a process whose parent exits is re-parented to the daemon rather
than to init: such an orphan is the step's when it was seen in its tree, or carries its
``WFE_RUN_ID``/``WFE_STEP``/``WFE_ATTEMPT``, or when only that step could have left it.

When a step ends (success, failure, timeout, cancel) what is left of its set gets SIGTERM,
then SIGKILL after the grace period, unless the step keeps background processes on purpose.
The daemon reaps its re-parented orphans itself: only those pids, with ``WNOHANG``, never a
step's leader (asyncio's child watcher waits for that one by its pid).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

PROC = Path("/proc")
PR_SET_CHILD_SUBREAPER = 36
Pid = tuple[int, int]  # (pid, start time in clock ticks): a pid that was reused differs


def become_subreaper() -> bool:
    """Make orphaned descendants come back to this process; False where that is not possible."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    pgid: int
    sid: int
    state: str
    start: int


def read_proc(pid: int) -> Proc | None:
    try:
        raw = (PROC / str(pid) / "stat").read_text()
        # The command name is in parentheses and may itself hold spaces and parentheses.
        rest = raw.rsplit(")", 1)[1].split()
        return Proc(pid, int(rest[1]), int(rest[2]), int(rest[3]), rest[0], int(rest[19]))
    except (OSError, IndexError, ValueError):
        return None


def proc_table() -> dict[int, Proc]:
    table: dict[int, Proc] = {}
    try:
        entries = [e.name for e in PROC.iterdir() if e.name.isdigit()]
    except OSError:
        return table
    for name in entries:
        p = read_proc(int(name))
        if p is not None:
            table[p.pid] = p
    return table


def marker(pid: int) -> tuple[str, str, str] | None:
    """The (run id, step, attempt) a process inherited in its environment, if it kept it."""
    try:
        raw = (PROC / str(pid) / "environ").read_bytes()
    except OSError:
        return None
    env = dict(item.partition(b"=")[::2] for item in raw.split(b"\0") if b"=" in item)
    try:
        return (env[b"WFE_RUN_ID"].decode(), env[b"WFE_STEP"].decode(),
                env[b"WFE_ATTEMPT"].decode())
    except (KeyError, UnicodeDecodeError):
        return None


def in_tree(table: dict[int, Proc], p: Proc, roots: set[int], members: set[Pid]) -> bool:
    """Whether ``p`` is in the session or group of a root, or descends from a root or member."""
    seen = 0
    cur: Proc | None = p
    while cur is not None and seen < 4096:  # a bound, in case the table changed under us
        if (cur.sid in roots or cur.pgid in roots or cur.pid in roots
                or (cur.pid, cur.start) in members):
            return True
        cur, seen = table.get(cur.ppid), seen + 1
    return False


@dataclass
class Tree:
    """One attempt's processes: its leader (session and group id) and what it started."""
    leader: int
    key: tuple[str, str, str]  # its marker: (run id, step, attempt)
    started: int  # the leader's start time: an orphan older than that is not the step's
    keep: bool = False
    members: set[Pid] = field(default_factory=set)
    changed: bool = False


class Reaper:
    def __init__(self) -> None:
        self.me = os.getpid()
        self.sid = os.getsid(0)
        self.trees: dict[int, Tree] = {}  # by leader pid
        self.kept: set[Pid] = set()  # background processes a step kept on purpose
        self.spawning = 0  # leaders being spawned, whose pid is not known yet
        self._next: asyncio.Future | None = None  # the scan callers from now on share
        self._running: asyncio.Future | None = None  # the scan reading /proc now

    def track(self, leader: int, key: tuple[str, str, str], keep: bool) -> Tree:
        p = read_proc(leader)
        tree = Tree(leader, key, p.start if p else 0, keep)
        self.trees[leader] = tree
        return tree

    async def refresh(self) -> None:
        """One /proc pass (off the loop) for every step at once: the callers that come
        before it starts share it, so many steps ending together cost one scan. Callers
        that come while a scan runs share the next one, which starts when that one ends:
        100 items ending one after another used to start a scan each, side by side."""
        if self._next is None:
            self._next = asyncio.ensure_future(self._scan(self._running))
        await asyncio.shield(self._next)

    async def _scan(self, before: asyncio.Future | None) -> None:
        if before is not None:
            await asyncio.wait([before])  # its outcome is its callers'; only its end matters
        await asyncio.sleep(0)
        self._next = None  # a caller from now on needs a scan that starts after it came
        self._running = asyncio.current_task()
        try:
            table = await asyncio.to_thread(proc_table)
            self.assign(table)
        finally:
            if self._running is asyncio.current_task():
                self._running = None

    def assign(self, table: dict[int, Proc]) -> None:
        if self.trees:
            self._grow(table)
        self._adopt_orphans(table)
        self._reap(table)

    def _grow(self, table: dict[int, Proc]) -> None:
        """Add to each tree what ``in_tree`` says is in it, for all trees in one pass: each
        process's chain of parents is walked once (the answer for a parent is kept for its
        children), not once per tree. With 100 steps at once that was 100 walks from every
        process on the machine to init, on the event loop, at every scan."""
        owners = _chain_owners(table, self.trees)
        for p in table.values():
            for leader in owners.get(p.pid, ()):
                tree = self.trees[leader]
                if p.pid == leader or (p.pid, p.start) in tree.members:
                    continue
                if p.start >= tree.started:
                    tree.members.add((p.pid, p.start))
                    tree.changed = True

    def _adopt_orphans(self, table: dict[int, Proc]) -> None:
        """Processes re-parented to the daemon that no tree claimed yet."""
        claimed = set(self.kept).union(*(t.members for t in self.trees.values()))
        by_key = {t.key: t for t in self.trees.values()}
        for p in table.values():
            if (p.ppid != self.me or p.pid in self.trees or (p.pid, p.start) in claimed
                    or p.sid == self.sid):  # the daemon's own children share its session
                continue
            tree = by_key.get(marker(p.pid) or ("", "", ""))
            if tree is None and self.spawning == 0 and len(self.trees) == 1:
                tree = next(iter(self.trees.values()))  # only one step could have left it
            if tree is not None and p.start >= tree.started:
                tree.members.add((p.pid, p.start))
                tree.changed = True

    def _reap(self, table: dict[int, Proc]) -> None:
        """Collect re-parented zombies that are ours to collect, and only those."""
        ours = set(self.kept).union(*(t.members for t in self.trees.values()))
        for p in table.values():
            if p.state == "Z" and p.ppid == self.me and p.pid not in self.trees and (
                    (p.pid, p.start) in ours):
                _waitpid(p.pid)
                self.kept.discard((p.pid, p.start))

    async def end(self, leader: int, grace: float) -> None:
        """The step ended: kill what is left of its tree, or keep it if the step asked."""
        tree = self.trees.get(leader)
        if tree is None:
            return
        try:
            await self.refresh()  # orphans the leader left as it exited
            if tree.keep:
                self.kept |= tree.members
                return
            await self._kill(tree, signal.SIGTERM, grace)
            await self._kill(tree, signal.SIGKILL, max(grace, 5.0))
            await self.refresh()  # the last zombies re-parented to us
        finally:
            self.trees.pop(leader, None)

    async def _kill(self, tree: Tree, sig: signal.Signals, wait: float) -> None:
        deadline = time.monotonic() + wait
        while True:
            live = [m for m in tree.members if _signal(m, sig)]
            if not live or time.monotonic() > deadline:
                return
            await asyncio.sleep(0.05)
            await self.refresh()  # reaps what died, adds what was forked meanwhile


def _chain_owners(table: dict[int, Proc], trees: dict[int, Tree]) -> dict[int, frozenset[int]]:
    """For each pid, the leaders of the trees ``in_tree`` puts it in: those whose leader is
    the session, the group or the pid of it or of a parent up its chain, or that have such
    a process as a member."""
    by_member: dict[Pid, set[int]] = {}
    for leader, tree in trees.items():
        for m in tree.members:
            by_member.setdefault(m, set()).add(leader)

    def direct(c: Proc) -> set[int]:
        hits = {x for x in (c.sid, c.pgid, c.pid) if x in trees}
        return hits | by_member.get((c.pid, c.start), set())

    owners: dict[int, frozenset[int]] = {}
    for p in table.values():
        chain: list[Proc] = []
        on_chain: set[int] = set()
        cur: Proc | None = p
        # Up to a parent already answered, init, or a loop (the table changed under us).
        while cur is not None and cur.pid not in owners and cur.pid not in on_chain:
            chain.append(cur)
            on_chain.add(cur.pid)
            cur = table.get(cur.ppid)
        found = owners.get(cur.pid, frozenset()) if cur is not None else frozenset()
        for c in reversed(chain):
            found = found | direct(c)
            owners[c.pid] = found
    return owners


def _alive(pid: Pid) -> bool:
    p = read_proc(pid[0])
    return p is not None and p.start == pid[1] and p.state != "Z"


def _signal(pid: Pid, sig: signal.Signals) -> bool:
    """Signal a member still alive (the same process, not a reused pid); False if gone."""
    if not _alive(pid):
        return False
    try:
        os.kill(pid[0], sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _waitpid(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
