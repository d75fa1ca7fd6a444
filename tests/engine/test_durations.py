"""Durations: a table of what parses, what does not and why, and how seconds are shown."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wfe.engine.durations import format_duration, parse_duration


@pytest.mark.parametrize("text,seconds", [
    ("500ms", 0.5),
    ("30s", 30),
    ("5m", 300),
    ("1h30m", 5400),
    ("24h", 86400),
    ("2d", 172800),
    ("1d2h3m4s5ms", 93784.005),
    ("1h 30m", 5400),          # what format_duration writes
    ("1.5h", 5400),
    (".5s", 0.5),
    ("90", 90),                # a bare number is seconds
    ("2.5", 2.5),
    ("  10s ", 10),
    ("10S", 10),
    ("0", 0),
    ("0s", 0),
    (45, 45),
    (1.25, 1.25),
    (0, 0),
])
def test_parses(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("value,fragment", [
    ("", "cannot be empty"),
    ("   ", "cannot be empty"),
    ("-5s", "must not be negative"),
    ("-3", "must not be negative"),
    (-1, "must not be negative"),
    (-0.5, "must not be negative"),
    ("5 parsecs", "invalid duration"),
    ("5x", "invalid duration"),
    ("s", "invalid duration"),
    ("1h-30m", "invalid duration"),
    ("h1", "invalid duration"),
    ("1e3", "invalid duration"),
    ("nan", "invalid duration"),
    ("inf", "invalid duration"),
    ("30m1h", "largest to smallest"),
    ("5s5s", "largest to smallest"),
    (float("nan"), "finite"),
    (float("inf"), "finite"),
    (True, "got bool"),
    (None, "got NoneType"),
    ([1], "got list"),
])
def test_rejects(value, fragment):
    with pytest.raises(ValueError, match=fragment):
        parse_duration(value)


@pytest.mark.parametrize("seconds,text", [
    (0, "0s"),
    (0.25, "250ms"),
    (0.0004, "0ms"),
    (1.2, "1.2s"),
    (1.0, "1s"),
    (5, "5s"),
    (59.94, "59.9s"),
    (59.96, "1m"),
    (184, "3m 4s"),
    (180, "3m"),
    (7500, "2h 5m"),
    (7200, "2h"),
    (93784, "1d 2h"),
    (86400 * 3, "3d"),
    (-90, "-1m 30s"),
])
def test_formats(seconds, text):
    assert format_duration(seconds) == text


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=0, max_value=10**7, allow_nan=False))
def test_format_reads_back_close(seconds):
    # What the CLI shows can be pasted back into a template, within its display precision.
    back = parse_duration(format_duration(seconds))
    tolerance = 0.0005 if seconds < 1 else 0.05 if seconds < 60 else 0.5 if seconds < 3600 \
        else 60 if seconds < 86400 else 3600
    assert abs(back - seconds) <= tolerance
