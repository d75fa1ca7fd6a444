"""Failure handlers: which of a run's `undo`, `on_failure` and `finally` steps run, in what order.

Handlers run after the run's main graph has ended, one at a time:

1. the `undo` of each main step that succeeded, newest completion first (a saga), when the
   run failed or was cancelled;
2. the `on_failure` steps, in list order, when the run failed;
3. the `finally` steps, in list order, however the run ended.

Every selected handler runs even when one before it failed: a failing compensation must not
leave the later ones undone. This module is pure; the store records the order it gives once,
when the handlers start, and the Runner executes that order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

UNDO, ON_FAILURE, FINALLY = "undo", "on_failure", "finally"
ROLES = (UNDO, ON_FAILURE, FINALLY)
# A handler in these has had its turn; `running` is one a crash cut short: it runs again.
FINISHED = frozenset({"succeeded", "failed", "skipped", "cancelled"})
UNDO_SUFFIX = ".undo"


def undo_name(step: str) -> str:
    """The undo of step ``build`` is named ``build.undo`` (a step name never holds a dot)."""
    return step + UNDO_SUFFIX


@dataclass(frozen=True)
class Handler:
    name: str
    role: str
    target: str | None = None  # the main step an undo compensates


def order(verdict: str, completed: Sequence[str], undos: Mapping[str, str],
          on_failure: Sequence[str], finally_: Sequence[str]) -> list[Handler]:
    """The handlers to run for a run that ended ``verdict`` (completed|failed|cancelled).

    ``completed``: the main steps that succeeded, in the order they completed (a step named
    twice, e.g. succeeded again after a rollback, counts at its last completion).
    ``undos``: main step name -> its undo's name, for the steps that have one.
    """
    out: list[Handler] = []
    if verdict in ("failed", "cancelled"):
        last = list(dict.fromkeys(reversed(completed)))  # newest completion first
        out += [Handler(undos[s], UNDO, s) for s in last if s in undos]
    if verdict == "failed":
        out += [Handler(n, ON_FAILURE) for n in on_failure]
    out += [Handler(n, FINALLY) for n in finally_]
    return out


def next_handler(sequence: Sequence[str], statuses: Mapping[str, str]) -> str | None:
    """The first handler of ``sequence`` that has not had its turn, or None when all have."""
    return next((n for n in sequence if statuses.get(n) not in FINISHED), None)


def summary(statuses: Mapping[str, str]) -> dict[str, list[str]]:
    """What the run reports about its handlers: the ones that failed, by name."""
    return {"failed": sorted(n for n, s in statuses.items() if s == "failed")}
