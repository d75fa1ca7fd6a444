"""What the Runner's halves (StepDriver, HandlerDriver) read of the Runner they are mixed
into: declared once, so each half type-checks on its own."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wfe.daemon.supervisor import Supervisor
    from wfe.engine.spec import TemplateSpec


class RunnerPart:
    sup: Supervisor
    run_id: str
    spec: TemplateSpec
    steps: list[dict[str, Any]]
    executing: dict[int, asyncio.Task]
    killed: bool
    masker: Any
    inputs: dict[str, Any]

    @property
    def expr_limit(self) -> int:
        return self.sup.settings.max_expression_bytes

    async def write(self, op: Any, *args: Any) -> Any:
        raise NotImplementedError  # the Runner's

    async def stored(self, fn: Any) -> Any:
        raise NotImplementedError  # the Runner's

    def expr_context(self) -> dict:
        raise NotImplementedError  # the Runner's
