"""Schedules' pure parts: next fire times (across DST changes), catch-up and overlap."""

from __future__ import annotations

import itertools
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from wfe.engine.schedules import (
    Catchup,
    Decision,
    Overlap,
    catchup_plan,
    jitter_for,
    last_fire,
    make_spec,
    next_fire,
    overlap_decision,
)

PARIS = ZoneInfo("Europe/Paris")


def at(*parts: int, fold: int = 0) -> float:
    return datetime(*parts, tzinfo=PARIS, fold=fold).timestamp()


@pytest.mark.parametrize("cron, after, expected", [
    ("0 3 * * *", at(2026, 1, 1, 12), at(2026, 1, 2, 3)),
    ("0 3 * * *", at(2026, 1, 1, 3), at(2026, 1, 2, 3)),  # strictly after
    ("@hourly", at(2026, 1, 1, 12, 5), at(2026, 1, 1, 13)),
    ("@daily", at(2026, 1, 1, 12), at(2026, 1, 2, 0)),
    ("@weekly", at(2026, 1, 1, 12), at(2026, 1, 4, 0)),  # a Sunday
    ("@monthly", at(2026, 1, 15), at(2026, 2, 1)),
    ("@yearly", at(2026, 1, 15), at(2027, 1, 1)),
    # Spring forward (02:00 -> 03:00): 02:30 does not exist; it fires at 03:00 that day.
    ("30 2 * * *", at(2026, 3, 28, 12), at(2026, 3, 29, 3)),
    ("30 2 * * *", at(2026, 3, 29, 3), at(2026, 3, 30, 2, 30)),
    # Fall back (03:00 -> 02:00): 02:30 happens twice and fires once, the first time.
    ("30 2 * * *", at(2026, 10, 24, 12), at(2026, 10, 25, 2, 30)),
    ("30 2 * * *", at(2026, 10, 25, 2, 30), at(2026, 10, 26, 2, 30)),
    # An hourly expression fires in each real hour, the repeated 02:00 included.
    ("0 * * * *", at(2026, 10, 25, 2, 0), at(2026, 10, 25, 2, 0, fold=1)),
    ("0 * * * *", at(2026, 10, 25, 2, 0, fold=1), at(2026, 10, 25, 3, 0)),
    ("0 * * * *", at(2026, 3, 29, 1, 0), at(2026, 3, 29, 3, 0)),  # 02:00 never was
])
def test_next_fire_cron_paris(cron, after, expected):
    assert next_fire(make_spec(cron, "Europe/Paris", None, None), after) == expected


def test_hourly_counts_real_hours_across_fall_back():
    spec = make_spec("@hourly", "Europe/Paris", None, None)
    t, times = at(2026, 10, 25, 0, 30), []
    for _ in range(5):
        t = next_fire(spec, t)
        times.append(t)
    assert [b - a for a, b in itertools.pairwise(times)] == [3600.0] * 4


@pytest.mark.parametrize("every, offset, after, expected", [
    (30, 0, 100.0, 120.0), (30, 0, 120.0, 150.0), (30, 5, 100.0, 125.0), (1, 0, 7.5, 8.0),
])
def test_next_and_last_fire_interval(every, offset, after, expected):
    spec = make_spec(None, None, every, offset)
    assert next_fire(spec, after) == expected
    assert last_fire(spec, expected) == expected
    assert last_fire(spec, expected - 0.001) < expected


def test_last_fire_cron_is_at_or_before():
    spec = make_spec("0 3 * * *", "Europe/Paris", None, None)
    assert last_fire(spec, at(2026, 1, 2, 3)) == at(2026, 1, 2, 3)
    assert last_fire(spec, at(2026, 1, 2, 2, 59)) == at(2026, 1, 1, 3)


@pytest.mark.parametrize("cron, tz, every, offset, message", [
    (None, None, None, None, "exactly one"),
    ("* * * * *", None, 5, None, "exactly one"),
    ("61 * * * *", None, None, None, "invalid cron"),
    ("* * *", None, None, None, "invalid cron"),
    ("@fortnightly", None, None, None, "invalid cron"),
    ("0 3 * * *", "Mars/Olympus", None, None, "unknown time zone"),
    (None, None, 0.5, None, "at least"),
    (None, None, 10, 10, "offset"),
    (None, "UTC", 10, None, "tz applies"),
    ("0 3 * * *", None, None, 5, "offset applies"),
    ("0 0 30 2 *", None, None, None, "invalid cron"),  # February 30th never comes
])
def test_bad_specs(cron, tz, every, offset, message):
    with pytest.raises(ValueError, match=message):
        make_spec(cron, tz, every, offset)


EVERY10 = make_spec(None, None, 10, None)


@pytest.mark.parametrize("policy, next_due, now, fire, missed, nxt", [
    # On time (within the 5 s grace): the one due time, whatever the policy.
    (Catchup.NONE, 100, 101, [100], 0, 110),
    (Catchup.ALL, 100, 101, [100], 0, 110),
    (Catchup.NONE, 100, 99, [], 0, 100),  # not due yet
    # The daemon was down from 100 to 136: 100, 110, 120, 130 were missed.
    (Catchup.NONE, 100, 136, [], 2, 140),
    (Catchup.LATEST, 100, 136, [130], 1, 140),
    (Catchup.ALL, 100, 136, [100, 110, 120, 130], 0, 140),
    # Down until 132: the latest (130) is on time and fires under `none` too.
    (Catchup.NONE, 100, 132, [130], 1, 140),
    # Late beyond the grace for the one due time.
    (Catchup.NONE, 100, 109, [], 1, 110),
    (Catchup.LATEST, 100, 109, [100], 0, 110),
])
def test_catchup_plan(policy, next_due, now, fire, missed, nxt):
    plan = catchup_plan(EVERY10, policy, next_due, now, 0.0, 5.0, 100)
    assert (plan.fire, plan.missed, plan.next_fire) == (fire, missed, nxt)


def test_catchup_all_keeps_the_most_recent_cap():
    plan = catchup_plan(EVERY10, Catchup.ALL, 0, 1005, 0.0, 1.0, 3)
    assert plan.fire == [980, 990, 1000] and plan.missed >= 1 and plan.next_fire == 1010


def test_catchup_counts_jitter():
    assert catchup_plan(EVERY10, Catchup.NONE, 100, 102, 3.0, 5.0, 10).fire == []
    assert catchup_plan(EVERY10, Catchup.NONE, 100, 103, 3.0, 5.0, 10).fire == [100]


def test_catchup_across_fall_back_fires_each_real_hour():
    spec = make_spec("@hourly", "Europe/Paris", None, None)
    start = at(2026, 10, 25, 1)
    plan = catchup_plan(spec, Catchup.ALL, start, at(2026, 10, 25, 3, 10), 0.0, 1.0, 100)
    assert plan.fire == [start, at(2026, 10, 25, 2), at(2026, 10, 25, 2, fold=1),
                         at(2026, 10, 25, 3)]


@pytest.mark.parametrize("policy, active, buffered, decision", [
    (Overlap.SKIP, 0, False, Decision.START),
    (Overlap.SKIP, 1, False, Decision.SKIP),
    (Overlap.ALLOW, 3, False, Decision.START),
    (Overlap.BUFFER_ONE, 0, False, Decision.START),
    (Overlap.BUFFER_ONE, 1, False, Decision.BUFFER),
    (Overlap.BUFFER_ONE, 1, True, Decision.SKIP),
    (Overlap.CANCEL_PREVIOUS, 1, False, Decision.CANCEL_AND_START),
    (Overlap.CANCEL_PREVIOUS, 0, False, Decision.START),
])
def test_overlap_decision(policy, active, buffered, decision):
    assert overlap_decision(policy, active, buffered) is decision


def test_jitter_is_stable_and_bounded():
    a = jitter_for("5c9e-id", 30.0)
    assert a == jitter_for("5c9e-id", 30.0) and 0 <= a < 30.0
    assert jitter_for("another", 30.0) != a and jitter_for("x", 0) == 0.0
