"""Which processes join which step's tree: the one-pass scan says what ``in_tree`` says.

The process tables here are built, not read from /proc: many steps' trees side by side
(sessions, groups, escaped double forks, members seen before, processes older than their
step) are more than real processes can be made to show at once. The real thing is
exercised end to end by tests/e2e/test_escapes.py.
"""

from __future__ import annotations

import random

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
