"""What a run's steps mean as a graph: the only module that knows.

A step needs the steps named in its ``needs``; without ``needs`` it needs the step before it
in the list, so a template written as a list is the chain it always was. ``plan()`` is the
scheduler: from each step's state it says which steps may start now and, once nothing more
can happen, the run's verdict. It is pure: the Runner executes what it says, the store
commits it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from wfe.engine.states import StepStatus

# A need is met by these; a step whose need ended any other way never starts on its own.
MET = frozenset({StepStatus.SUCCEEDED, StepStatus.SKIPPED})
ACTIVE = frozenset({StepStatus.RUNNING, StepStatus.WAITING})
BROKEN = frozenset({StepStatus.FAILED, StepStatus.CANCELLED})


class Verdict(StrEnum):
    """What the run is, seen from its steps (None from plan() while steps may still start)."""

    COMPLETED = "completed"  # every step succeeded or was skipped
    FAILED = "failed"  # a step failed and nothing is executing any more
    WAITING = "waiting"  # nothing can start, something waits (a gate, a callback, a backoff)
    CANCELLED = "cancelled"  # a step was cancelled and nothing is executing any more


@dataclass(frozen=True)
class Plan:
    ready: tuple[str, ...]  # may start now, in template order
    verdict: Verdict | None  # None while steps execute or may start


def needs_of(steps: Sequence[tuple[str, Sequence[str] | None]]) -> dict[str, tuple[str, ...]]:
    """Each step's needs, from ``(name, needs-or-None)`` in template order."""
    out: dict[str, tuple[str, ...]] = {}
    previous: str | None = None
    for name, needs in steps:
        if needs is None:
            out[name] = (previous,) if previous is not None else ()
        else:
            out[name] = tuple(dict.fromkeys(needs))  # a repeat means nothing more
        previous = name
    return out


def unknown_needs(needs: Mapping[str, Sequence[str]]) -> list[tuple[str, str]]:
    """``(step, name)`` for each need that names no step (or the step itself)."""
    return [(step, n) for step, ns in needs.items() for n in ns if n not in needs or n == step]


def find_cycle(needs: Mapping[str, Sequence[str]]) -> list[str] | None:
    """One cycle as ``[a, b, ..., a]`` (each needs the next), or None. Iterative: a template
    is user input, and a deep chain must not exhaust Python's stack."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    for root in needs:
        if state.get(root):
            continue
        path: list[str] = [root]
        iters = [iter(needs.get(root, ()))]
        state[root] = 1
        while iters:
            nxt = next(iters[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                iters.pop()
            elif nxt not in needs:
                continue
            elif state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            elif not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                iters.append(iter(needs.get(nxt, ())))
    return None


def upstream(needs: Mapping[str, Sequence[str]], step: str) -> set[str]:
    """Every step ``step`` transitively needs: the only steps whose outputs it may read."""
    seen: set[str] = set()
    todo = list(needs.get(step, ()))
    while todo:
        n = todo.pop()
        if n not in seen:
            seen.add(n)
            todo.extend(needs.get(n, ()))
    return seen


class Upstream:
    """``x in Upstream(needs, step)``: whether ``step`` transitively needs ``x``, walking the
    graph only as far as each question asks (most steps ask none)."""

    def __init__(self, needs: Mapping[str, Sequence[str]], step: str) -> None:
        self._needs = needs
        self._seen: set[str] = set()
        self._todo = list(needs.get(step, ()))

    def __contains__(self, name: object) -> bool:
        while name not in self._seen and self._todo:
            n = self._todo.pop()
            if n not in self._seen:
                self._seen.add(n)
                self._todo.extend(self._needs.get(n, ()))
        return name in self._seen


def downstream(needs: Mapping[str, Sequence[str]], roots: Iterable[str]) -> set[str]:
    """``roots`` and every step that transitively needs one of them (what a rollback resets)."""
    users: dict[str, list[str]] = {s: [] for s in needs}
    for s, ns in needs.items():
        for n in ns:
            users.setdefault(n, []).append(s)
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        s = todo.pop()
        if s not in seen:
            seen.add(s)
            todo.extend(users.get(s, ()))
    return seen


def levels(needs: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """Steps by depth (a step sits one level below its deepest need), for drawing."""
    depth: dict[str, int] = {}
    for step in topological(needs):
        depth[step] = 1 + max((depth[n] for n in needs[step] if n in depth), default=-1)
    out: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for step in needs:  # template order within a level
        out[depth[step]].append(step)
    return out


def topological(needs: Mapping[str, Sequence[str]]) -> list[str]:
    """An order in which every step comes after its needs (template order breaks ties)."""
    order: list[str] = []
    placed: set[str] = set()
    pending = list(needs)
    while pending:
        rest = [s for s in pending if not all(n in placed for n in needs[s] if n in needs)]
        now = [s for s in pending if s not in rest]
        if not now:
            raise ValueError(f"the steps form a cycle: {find_cycle(needs)}")
        order.extend(now)
        placed.update(now)
        pending = rest
    return order


def plan(needs: Mapping[str, Sequence[str]], status: Mapping[str, StepStatus | str],
         halted: bool = False, backing_off: Iterable[str] = ()) -> Plan:
    """The steps that may start now, and the run's verdict once nothing more can happen.

    A failed (or cancelled) step halts the run: nothing new starts, what executes finishes,
    then the verdict is given. ``halted`` says the same from outside (a pause, a cancel), so
    a Runner can drain without starting anything. ``backing_off``: pending steps whose next
    attempt is not due yet; they start later, so the run waits rather than ends.
    """
    states = {s: StepStatus(status[s]) for s in needs}
    later = set(backing_off)
    broken = any(v in BROKEN for v in states.values())
    active = any(v in ACTIVE for v in states.values())
    ready: tuple[str, ...] = ()
    if not broken and not halted:
        ready = tuple(s for s, v in states.items()
                      if v == StepStatus.PENDING and s not in later
                      and all(states[n] in MET for n in needs[s]))
    if ready or active:
        return Plan(ready, None)
    return Plan((), _verdict(states))


def _verdict(states: Mapping[str, StepStatus]) -> Verdict:
    values = set(states.values())
    if StepStatus.FAILED in values:
        return Verdict.FAILED
    if StepStatus.CANCELLED in values:
        return Verdict.CANCELLED
    if values <= MET:
        return Verdict.COMPLETED
    return Verdict.WAITING  # pending steps remain, none can start: halted, or backing off
