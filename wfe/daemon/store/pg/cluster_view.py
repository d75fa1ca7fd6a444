"""What GET /api/v1/cluster shows of a shared database: nodes, leases, running steps."""

from __future__ import annotations

from typing import Any

from wfe.daemon.store.pg.lease import SERVER_NOW
from wfe.daemon.store.util import now_iso

MAX_SHOWN = 1000


def cluster(conn: Any, lease_seconds: float) -> list[dict]:
    now = conn.execute(f"SELECT {SERVER_NOW}").fetchone()[0]
    nodes = [dict(r) for r in conn.execute(
        "SELECT id, host, pid, url, version, started_at, seen_at, stopped_at FROM nodes"
        " ORDER BY started_at, id").fetchall()]
    leases: dict[str, list[dict]] = {}
    for run_id, node, left in conn.execute(
            f"SELECT r.id, r.lease_node, n.seen_at + ? - {SERVER_NOW} FROM runs r"
            " LEFT JOIN nodes n ON n.id = r.lease_node WHERE r.lease_node IS NOT NULL"
            " ORDER BY r.id LIMIT ?", (lease_seconds, MAX_SHOWN)).fetchall():
        leases.setdefault(node, []).append({"run_id": run_id,
                                            "expires_in": round(left or 0.0, 3)})
    steps: dict[str, list[dict]] = {}
    for row in conn.execute(
            "SELECT r.lease_node, a.run_id, s.name, a.attempt, a.started_at FROM step_attempts a"
            " JOIN steps s ON s.run_id = a.run_id AND s.idx = a.idx JOIN runs r ON r.id = a.run_id"
            " WHERE a.status = 'running' AND r.lease_node IS NOT NULL ORDER BY a.started_at"
            " LIMIT ?", (MAX_SHOWN,)).fetchall():
        steps.setdefault(row[0], []).append({"run_id": row[1], "step": row[2],
                                             "attempt": row[3], "started_at": row[4]})
    for n in nodes:
        stopped = n.pop("stopped_at")
        lapsed = now - n["seen_at"] > lease_seconds
        n["state"] = "stopped" if stopped else "lapsed" if lapsed else "up"
        n["seen_at"] = now_iso(n["seen_at"])
        n["url"] = n["url"] or ""
        n["leases"] = leases.get(n["id"], [])
        n["running_steps"] = steps.get(n["id"], [])
    return nodes
