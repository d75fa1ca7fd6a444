"""Durations as people write them in templates ("30s", "1h30m") and as the CLI shows them."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta

# Largest unit first; "ms" before "m" so the alternation does not stop at the "m" of "ms".
_UNITS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_ORDER = list(_UNITS)
_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)"
_PART = re.compile(rf"({_NUMBER})\s*(ms|d|h|m|s)\s*")
_BARE = re.compile(rf"{_NUMBER}")
_PAIRS = ((86400, "d", 3600, "h"), (3600, "h", 60, "m"), (60, "m", 1, "s"))
_EXAMPLES = "e.g. 500ms, 30s, 5m, 1h30m, 2d or a number of seconds"


def parse_duration(value: str | int | float) -> float:
    """Seconds in ``value``; ValueError naming the problem for anything else."""
    # bool is an int subclass, and "timeout: yes" in YAML is a mistake, not one second.
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"expected a duration ({_EXAMPLES}), got {type(value).__name__}")
    if isinstance(value, (int, float)):
        return _checked(float(value), repr(value))
    text = value.strip().lower()
    if not text:
        raise ValueError(f"a duration cannot be empty ({_EXAMPLES})")
    if text.startswith("-"):
        raise ValueError(f"duration {value!r} must not be negative")
    if _BARE.fullmatch(text):
        return _checked(float(text), repr(value))
    return _checked(_parse_units(text, value), repr(value))


def _parse_units(text: str, original: str) -> float:
    total, pos, last = 0.0, 0, -1
    while pos < len(text):
        m = _PART.match(text, pos)
        if m is None:
            raise ValueError(f"invalid duration {original!r} ({_EXAMPLES})")
        rank = _ORDER.index(m.group(2))
        # "30m1h" or "5s5s" is more likely a typo than a sum the author meant.
        if rank <= last:
            raise ValueError(
                f"invalid duration {original!r}: units go from largest to smallest, each once"
            )
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos, last = m.end(), rank
    return total


def _checked(seconds: float, shown: str) -> float:
    if math.isnan(seconds) or math.isinf(seconds):
        raise ValueError(f"duration {shown} must be a finite number")
    if seconds < 0:
        raise ValueError(f"duration {shown} must not be negative")
    return seconds


def format_duration(seconds: float) -> str:
    """A short human form: "250ms", "1.2s", "3m 4s", "2h 5m", "3d 4h"."""
    if seconds < 0:
        return "-" + format_duration(-seconds)
    if seconds == 0:
        return "0s"
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    tenths = round(seconds, 1)
    if tenths < 60:
        return f"{tenths:.1f}".rstrip("0").rstrip(".") + "s"
    whole = round(seconds)
    for size, big, small_size, small in _PAIRS:
        if whole >= size:
            major, rest = divmod(whole, size)
            minor = rest // small_size
            return f"{major}{big} {minor}{small}" if minor else f"{major}{big}"
    return f"{whole}s"  # unreachable: whole >= 60 here


_LEAP_SECOND = re.compile(r"(T\d\d:\d\d):60")


def parse_instant(text: str) -> datetime:
    """An ISO-8601 time as an aware UTC datetime (UTC when it names no offset).

    RFC 3339 also allows a lowercase ``t``/``z`` and a leap second (``:60``); both are taken.
    ValueError for anything else (OverflowError included: a time beyond datetime's years)."""
    normal = _LEAP_SECOND.sub(r"\1:59", text.strip().upper())
    try:
        at = datetime.fromisoformat(normal)
        return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError) as e:
        raise ValueError(f"invalid time {text!r}: use ISO 8601, e.g. 2025-01-31T12:00:00Z"
                         f" ({e})") from None


def parse_since(text: str, now: datetime) -> datetime:
    """``--since``: a time ago (``1h``, ``2d``, as ``parse_duration`` reads) or an ISO-8601 time."""
    try:
        ago = parse_duration(text)
    except ValueError:
        return parse_instant(text)
    try:
        return now - timedelta(seconds=ago)
    except OverflowError:
        raise ValueError(f"--since {text!r} reaches back before year 1") from None
