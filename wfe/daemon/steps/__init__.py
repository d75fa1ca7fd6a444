"""Executors, one per step kind. Each takes a StepContext and returns a result dict:
``{"status": "succeeded"|"failed"|"timed_out"|"cancelled", "output", "error", "exit_code",
"log_path", "log_tail"}``. Sleep, approval and callback steps do not execute here: the
Runner hibernates and the timer or a request wakes the run.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class StepContext:
    run_id: str
    index: int
    step: Any  # wfe.engine.spec.StepSpec
    attempt: int
    expr: dict  # the expression context: input, steps, run
    inputs: dict
    log_dir: Path
    timeout: float | None
    cancel_grace: float
    tail_bytes: int
    on_spawn: Callable[[int], Awaitable[None]] | None = None
    http: Any = None  # the daemon's aiohttp ClientSession
    extra_env: dict[str, str] = field(default_factory=dict)
    env_passthrough: tuple[str, ...] = ()  # the daemon's variables steps also get
    expr_limit: int = 1024 * 1024  # Settings.max_expression_bytes
    procs: Any = None  # the daemon's Reaper (wfe.daemon.reaper): every process the step starts
    keep_background: bool = False  # leave background processes running when the step ends
    max_log_bytes: int = 50 * 1024 * 1024  # see wfe.daemon.steps.logcap
    item: int | None = None  # a foreach step's item: its own key and log


    @property
    def idempotency_key(self) -> str:
        key = f"{self.run_id}:{self.step.name}"
        return key if self.item is None else f"{key}:{self.item}"

    def log_path(self) -> Path:
        name = self.step.name if self.item is None else f"{self.step.name}.{self.item}"
        return self.log_dir / f"{self.index:03d}-{name}.{self.attempt}.log"


def result(status: str, **kw: Any) -> dict:
    return {"status": status, **kw}
