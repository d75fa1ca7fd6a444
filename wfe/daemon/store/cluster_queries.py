"""GET /api/v1/cluster on the SQLite file: one node, which executes every running step."""

from __future__ import annotations

from typing import Any

MAX_SHOWN = 1000


def running_steps(conn: Any) -> list[dict]:
    return [{"run_id": r[0], "step": r[1], "attempt": r[2], "started_at": r[3]}
            for r in conn.execute(
                "SELECT a.run_id, s.name, a.attempt, a.started_at FROM step_attempts a"
                " JOIN steps s ON s.run_id = a.run_id AND s.idx = a.idx"
                " WHERE a.status = 'running' ORDER BY a.started_at LIMIT ?",
                (MAX_SHOWN,)).fetchall()]
