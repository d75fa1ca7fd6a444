"""Schedules: when one fires next, what to do about a run still going, what a stop missed.

Pure: times are epoch seconds (floats) and every answer follows from the arguments. Cron
expressions are read by cronsim, whose handling of daylight-saving changes is the one we
promise: a time that does not exist on a spring-forward day fires at the first minute that
does, and an hour that repeats on a fall-back day fires once for a fixed time (``30 2 * * *``)
but twice for an hourly expression (``0 * * * *``), once per real hour.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

# The aliases people know from cron(8); cronsim reads the five fields only.
ALIASES = {
    "@hourly": "0 * * * *", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0", "@monthly": "0 0 1 * *", "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
MIN_EVERY = 1.0  # seconds: the timer loop's grain; faster schedules would be a busy loop
MAX_EXPR = 200


class Overlap(StrEnum):
    SKIP = "skip"
    ALLOW = "allow"
    BUFFER_ONE = "buffer_one"
    CANCEL_PREVIOUS = "cancel_previous"


class Catchup(StrEnum):
    NONE = "none"
    LATEST = "latest"
    ALL = "all"


class Decision(StrEnum):
    START = "start"
    SKIP = "skip"
    BUFFER = "buffer"  # start one when the previous run ends
    CANCEL_AND_START = "cancel_and_start"


@dataclass(frozen=True)
class Spec:
    """Either a cron expression in a zone, or an interval anchored at the epoch + offset."""

    cron: str | None = None
    tz: str | None = None
    every: float | None = None
    offset: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        if self.cron is not None:
            return {"cron": self.cron, "tz": self.tz}
        return {"every": self.every, "offset": self.offset}


def make_spec(cron: str | None, tz: str | None, every: float | None,
              offset: float | None) -> Spec:
    """A checked Spec; ValueError naming the problem otherwise."""
    if (cron is None) == (every is None):
        raise ValueError("give exactly one of cron and every")
    if every is not None:
        if tz is not None:
            raise ValueError("tz applies to cron only")
        if not math.isfinite(every) or every < MIN_EVERY:
            raise ValueError(f"every must be at least {MIN_EVERY:g}s")
        off = offset or 0.0
        if not math.isfinite(off) or off < 0 or off >= every:
            raise ValueError("offset must be at least 0 and less than every")
        return Spec(every=float(every), offset=float(off))
    if offset is not None:
        raise ValueError("offset applies to every only")
    assert cron is not None
    expr = " ".join(cron.split())
    if len(expr) > MAX_EXPR:
        raise ValueError(f"a cron expression has at most {MAX_EXPR} characters")
    zone = _zone(tz or "UTC")
    try:
        next(iter(CronSim(ALIASES.get(expr.lower(), expr), datetime(2000, 1, 1, tzinfo=zone))))
    except (CronSimError, StopIteration) as e:
        raise ValueError(f"invalid cron expression {cron!r}: {e or 'it never fires'}") from None
    return Spec(cron=expr, tz=tz or "UTC")


def spec_from_dict(d: dict[str, Any]) -> Spec:
    if d.get("cron") is not None:
        return Spec(cron=d["cron"], tz=d.get("tz") or "UTC")
    return Spec(every=float(d["every"]), offset=float(d.get("offset") or 0.0))


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (an IANA name such as Europe/Paris)") \
            from None


def _cron(spec: Spec, at: float, reverse: bool = False) -> CronSim:
    assert spec.cron is not None
    zone = _zone(spec.tz or "UTC")
    return CronSim(ALIASES.get(spec.cron.lower(), spec.cron),
                   datetime.fromtimestamp(at, zone), reverse=reverse)


def next_fire(spec: Spec, after: float) -> float:
    """The first fire time strictly after ``after``."""
    if spec.every is not None:
        k = math.floor((after - spec.offset) / spec.every) + 1
        return spec.offset + k * spec.every
    return next(_cron(spec, math.floor(after))).timestamp()


def last_fire(spec: Spec, at_or_before: float) -> float:
    """The last fire time at or before ``at_or_before``."""
    if spec.every is not None:
        k = math.floor((at_or_before - spec.offset) / spec.every)
        return spec.offset + k * spec.every
    # cronsim's reverse is strict and works in whole seconds.
    return next(_cron(spec, math.floor(at_or_before) + 1, reverse=True)).timestamp()


def jitter_for(schedule_id: str, jitter: float) -> float:
    """A delay in [0, jitter) fixed by the schedule's id, so a restart does not move it."""
    if jitter <= 0:
        return 0.0
    digest = hashlib.sha256(schedule_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 * jitter


@dataclass(frozen=True)
class Plan:
    fire: list[float]  # the fire times to start runs for, oldest first
    missed: int  # due times not started (more than counted when capped)
    next_fire: float  # the first fire time after this plan


def catchup_plan(spec: Spec, policy: Catchup, next_due: float, now: float, delay: float,
                 grace: float, cap: int) -> Plan:
    """What to fire at ``now`` when ``next_due`` (a fire time, plus ``delay`` of jitter) has
    come. A fire at most ``grace`` late is on time: that covers a busy loop or a quick
    restart, so `none` never loses a fire it was merely slow to start. Later fires were
    missed while the daemon was down: `none` starts none of them, `latest` the last one,
    `all` each, keeping the ``cap`` most recent."""
    latest = last_fire(spec, now - delay)
    if latest < next_due:  # nothing due yet (a poke before time)
        return Plan([], 0, next_due)
    after = next_fire(spec, latest)
    on_time = now - (latest + delay) <= grace
    if latest == next_due and on_time:
        return Plan([latest], 0, after)
    if policy is Catchup.ALL:
        times: list[float] = []
        t = latest
        while t >= next_due and len(times) < max(1, cap):
            times.append(t)
            t = last_fire(spec, t - 0.001)
        missed = 1 if t >= next_due else 0  # capped: at least one more was dropped
        return Plan(times[::-1], missed, after)
    behind = 1 if latest == next_due else 2  # at least: counting them all is unbounded
    if policy is Catchup.LATEST or on_time:
        return Plan([latest], behind - 1, after)
    return Plan([], behind, after)


def overlap_decision(policy: Overlap, active: int, buffered: bool) -> Decision:
    """What a fire does while ``active`` runs of the schedule are not finished."""
    if active == 0 or policy is Overlap.ALLOW:
        return Decision.START
    if policy is Overlap.CANCEL_PREVIOUS:
        return Decision.CANCEL_AND_START
    if policy is Overlap.BUFFER_ONE and not buffered:
        return Decision.BUFFER
    return Decision.SKIP
