"""The retry delay is a pure function: a table of (policy, attempt, draw) -> delay."""

from __future__ import annotations

import pytest

from wfe.engine.retry import RetryPolicy

EXP = RetryPolicy(max_attempts=10, initial_delay=1.0, multiplier=2.0, max_delay=300.0)


@pytest.mark.parametrize("policy,attempt,rand,delay", [
    (EXP, 1, 0.5, 1.0),
    (EXP, 2, 0.5, 2.0),
    (EXP, 3, 0.5, 4.0),
    (EXP, 9, 0.5, 256.0),
    (EXP, 10, 0.5, 300.0),           # capped by max_delay
    (EXP, 5000, 0.5, 300.0),         # no overflow
    (RetryPolicy(backoff="fixed", initial_delay=5.0), 7, 0.9, 5.0),
    (RetryPolicy(multiplier=3.0, initial_delay=0.5), 3, 0.0, 4.5),
    (RetryPolicy(jitter="full"), 3, 0.25, 1.0),      # 4.0 * 0.25
    (RetryPolicy(jitter="full"), 3, 0.0, 0.0),
    (RetryPolicy(jitter=0.5), 3, 1.0, 2.0),          # takes off at most half
    (RetryPolicy(jitter=0.5), 3, 0.0, 4.0),
    (RetryPolicy(jitter="none"), 2, 0.99, 2.0),
])
def test_delay_table(policy, attempt, rand, delay):
    assert policy.delay(attempt, rand) == pytest.approx(delay)


@pytest.mark.parametrize("policy,attempt,status,code,want", [
    (RetryPolicy(), 1, "failed", 1, False),                       # default: one attempt
    (RetryPolicy(max_attempts=3), 1, "failed", 1, True),
    (RetryPolicy(max_attempts=3), 3, "failed", 1, False),
    (RetryPolicy(max_attempts=3), 1, "timed_out", None, True),
    (RetryPolicy(max_attempts=3), 1, "cancelled", None, False),
    (RetryPolicy(max_attempts=3, retry_on_exit_codes=(75,)), 1, "failed", 75, True),
    (RetryPolicy(max_attempts=3, retry_on_exit_codes=(75,)), 1, "failed", 1, False),
    (RetryPolicy(max_attempts=3, no_retry_on_exit_codes=(2,)), 1, "failed", 2, False),
    (RetryPolicy(max_attempts=3, no_retry_on_exit_codes=(2,)), 1, "failed", 1, True),
])
def test_should_retry(policy, attempt, status, code, want):
    assert policy.should_retry(attempt, status, code) is want


@pytest.mark.parametrize("attempt,budget_from,want", [
    (3, 0, False),   # the first budget is spent
    (4, 3, True),    # a manual retry after attempt 3: a fresh budget
    (5, 3, True),
    (6, 3, False),   # three attempts since the retry
])
def test_a_manual_retry_starts_a_fresh_budget(attempt, budget_from, want):
    assert RetryPolicy(max_attempts=3).should_retry(attempt, "failed", 1, budget_from) is want


def test_from_spec_parses_durations():
    p = RetryPolicy.from_spec({"max_attempts": 4, "initial_delay": "250ms", "max_delay": "2m",
                               "backoff": "fixed", "jitter": "full"})
    assert (p.max_attempts, p.initial_delay, p.max_delay, p.backoff, p.jitter) == (
        4, 0.25, 120.0, "fixed", "full")
    assert RetryPolicy.from_spec(None) == RetryPolicy()
