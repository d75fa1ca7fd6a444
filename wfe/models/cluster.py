"""The cluster: the daemons (nodes) sharing one database, their leases and running steps."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from wfe.models.base import Response
from wfe.wire import Timestamp, Uuid


class RunningStep(Response):
    run_id: Uuid
    step: str
    attempt: int
    started_at: Timestamp


class Lease(Response):
    run_id: Uuid
    expires_in: float = Field(description="seconds until the lease lapses unless renewed"
                              " (negative: lapsed, about to be taken over)")


class Node(Response):
    id: str
    host: str
    pid: int
    url: str = Field(description="where it listens, as it says (empty until it does)")
    version: str
    started_at: Timestamp
    seen_at: Timestamp = Field(description="its last heartbeat")
    state: Literal["up", "lapsed", "stopped"] = Field(
        description="up: renewing its leases; lapsed: silent longer than a lease (its runs"
        " are taken over); stopped: stopped cleanly")
    leases: list[Lease]
    running_steps: list[RunningStep]


class Cluster(Response):
    backend: Literal["sqlite", "postgres"]
    this_node: str = Field(description="the node that answered")
    lease_seconds: float
    nodes: list[Node]
