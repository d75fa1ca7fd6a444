"""Which processes join which step's tree: the one-pass scan says what ``in_tree`` says.

The process tables here are built, not read from /proc: many steps' trees side by side
(sessions, groups, escaped double forks, members seen before, processes older than their
step) are more than real processes can be made to show at once. The real thing is
exercised end to end by tests/e2e/test_escapes.py.
"""

from __future__ import annotations

import random

from tests.conftest import async_wait_until
from wfe.daemon.reaper import Proc, Reaper, Tree, in_tree


def _table(rng: random.Random, n: int, leaders: list[int]) -> dict[int, Proc]:
    table = {1: Proc(1, 0, 1, 1, "S", 0)}
    for pid in range(2, n):
        parent = table[rng.choice(list(table))]
        # a step's leader, or a process that called setsid: its own session and group
        if pid in leaders or rng.random() < 0.15:
            sid = pgid = pid
        else:
            sid, pgid = parent.sid, rng.choice([parent.pgid, parent.pgid, pid])
        ppid = 1 if rng.random() < 0.1 else parent.pid  # re-parented after its parent died
        table[pid] = Proc(pid, ppid, pgid, sid, "S", rng.randrange(0, 100))
    return table


def _expected(table: dict[int, Proc], tree: Tree) -> set[tuple[int, int]]:
    return tree.members | {
        (p.pid, p.start) for p in table.values()
        if p.pid != tree.leader and p.start >= tree.started
        and in_tree(table, p, {tree.leader}, tree.members)}


def test_one_pass_matches_in_tree_for_every_tree():
    rng = random.Random(7)
    for _ in range(40):
        leaders = rng.sample(range(2, 300), 12)
        table = _table(rng, 300, leaders)
        reaper = Reaper()
        for i, leader in enumerate(leaders):
            tree = reaper.track(leader, ("run", f"s{i}", "1"), False)
            tree.started = rng.randrange(0, 60)
            # members from an earlier scan: some now in another session entirely
            tree.members = {(p.pid, p.start) for p in rng.sample(list(table.values()), 3)}
        want = {leader: _expected(table, t) for leader, t in reaper.trees.items()}
        before = {leader: set(t.members) for leader, t in reaper.trees.items()}
        reaper._grow(table)
        for leader, tree in reaper.trees.items():
            assert tree.members == want[leader], leader
            assert tree.changed == (want[leader] != before[leader])
    # the cases exist: trees gained members, and some processes joined no tree
    assert any(want[x] != before[x] for x in want)
    assert set(table) - {pid for m in want.values() for pid, _ in m}


async def test_callers_during_a_scan_share_the_next_one(monkeypatch):
    """Steps ending one after another do not start a /proc scan each, side by side; and each
    caller still gets a scan that began after it asked."""
    import asyncio
    import threading
    import time

    from wfe.daemon import reaper as mod

    real, starts, running, most = mod.proc_table, [], [0], [0]
    lock = threading.Lock()

    def counted():
        with lock:
            starts.append(time.monotonic())
            running[0] += 1
            most[0] = max(most[0], running[0])
        try:
            time.sleep(0.2)  # a slow scan: a busy machine's /proc
            return real()
        finally:
            with lock:
                running[0] -= 1

    monkeypatch.setattr(mod, "proc_table", counted)
    r = Reaper()
    first = asyncio.ensure_future(r.refresh())
    async def scanning() -> bool:
        return bool(starts)

    await async_wait_until(scanning, timeout=30, message="the first scan")
    asked = time.monotonic()
    await asyncio.gather(first, *(r.refresh() for _ in range(19)))
    assert len(starts) == 2 and most[0] == 1
    assert starts[1] >= asked  # the late callers' scan began after they came
