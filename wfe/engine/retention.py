"""Which runs may be deleted, and when retention deletes one: pure rules, no I/O.

A run may be deleted once it has ended and its failure handlers are done (they still act
on its behalf while they run), and only with every run below it (its sub-workflows), which
must all be deletable too: a child left behind would name a parent that is gone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from wfe.engine.durations import parse_duration
from wfe.engine.states import RunStatus
from wfe.errors import InvalidTransition

# runs.handlers values under which the run is still acting (see ops_handlers).
HANDLERS_ACTIVE = frozenset({"waiting", "pending", "running"})
RETENTION_ACTOR = "retention"


def blocker(status: str, handlers: str | None) -> str | None:
    """Why a run cannot be deleted now, or None when it can."""
    if not RunStatus(status).terminal:
        return f"it is {status}; cancel it or wait for its end"
    if handlers in HANDLERS_ACTIVE:
        return "its failure handlers are still running"
    return None


def check_deletable(runs: Iterable[Mapping[str, Any]], root: str) -> None:
    """Raise InvalidTransition (409) naming the first run, the root or one below it, that
    cannot be deleted. ``runs``: rows with id, status, handlers."""
    for run in runs:
        why = blocker(run["status"], run["handlers"])
        if why is None:
            continue
        which = "the run" if run["id"] == root else f"its child run {run['id']}"
        raise InvalidTransition(f"cannot delete run {root}: {which} cannot be deleted, as {why}",
                                {"run_id": run["id"], "status": run["status"],
                                 "handlers": run["handlers"]})


def retention_seconds(value: str | int | float | None) -> float | None:
    """A retention as written (``"30d"``; empty or None: keep forever) in seconds."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    seconds = parse_duration(value)
    if seconds <= 0:
        raise ValueError(f"retention {value!r} must be longer than zero")
    return seconds


def cutoff(now: float, seconds: float) -> str:
    """Runs that finished before this time (as finished_at is stored) have expired."""
    at = datetime.fromtimestamp(now - seconds, UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")

