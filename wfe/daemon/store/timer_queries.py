"""What the timer loop reads: runs whose time has come, and when the next one is due."""

from __future__ import annotations

from typing import Any

ENDED = "('completed', 'failed', 'cancelled')"


def due_runs(conn: Any, now: float, limit: int = 1000) -> list[str]:
    rows = conn.execute("SELECT id FROM runs WHERE wake_at <= ? ORDER BY wake_at LIMIT ?",
                        (now, limit)).fetchall()
    return [r[0] for r in rows]


def expired_runs(conn: Any, now: float, limit: int = 1000) -> list[str]:
    rows = conn.execute(f"SELECT id FROM runs WHERE deadline <= ? AND status NOT IN {ENDED}"
                        " LIMIT ?", (now, limit)).fetchall()
    return [r[0] for r in rows]


def next_wake(conn: Any, now: float) -> float | None:
    """The earliest future wake-up or run deadline."""
    (wake,) = conn.execute("SELECT MIN(wake_at) FROM runs WHERE wake_at > ?", (now,)).fetchone()
    (deadline,) = conn.execute(f"SELECT MIN(deadline) FROM runs WHERE deadline > ?"
                               f" AND status NOT IN {ENDED}", (now,)).fetchone()
    times = [t for t in (wake, deadline) if t is not None]
    return min(times) if times else None
