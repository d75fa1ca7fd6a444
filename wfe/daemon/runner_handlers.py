"""The Runner's last part: a run's failure handlers (undo, on_failure, finally), once it ended.

The run is already `completed`, `failed` or `cancelled` (waiters and webhooks saw it end);
its handlers then run one at a time in the order wfe.engine.handlers gave when they started.
Each start is committed before the handler executes and each result as it ends, so a new
Runner after a crash picks up at the first handler without a recorded result.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from wfe.daemon.runner_base import RunnerPart
from wfe.daemon.secrets import mask_outcome
from wfe.daemon.steps import StepContext
from wfe.daemon.store import ops_handlers as ops
from wfe.engine.expressions import evaluate_condition, render
from wfe.engine.handlers import next_handler
from wfe.engine.strictjson import finite_outcome
from wfe.errors import WfeError

if TYPE_CHECKING:
    pass

log = logging.getLogger("wfe.runner")


class HandlerDriver(RunnerPart):
    """The half of the Runner that runs an ended run's handlers."""

    def _load(self, claim: dict) -> None:
        raise NotImplementedError

    async def run_handlers(self) -> None:
        if self.sup.draining:
            return
        claim = await self.write(ops.claim, self.run_id)
        if claim is None:
            return
        self._load(claim)
        self.killed = False  # the cancel that ended the run stopped its steps, not these
        ending = claim["ending"]
        rows = {r["name"]: r for r in claim["handlers"]}
        sequence = list(rows)
        statuses = {n: r["status"] for n, r in rows.items()}
        while (name := next_handler(sequence, statuses)) is not None:
            if self.sup.draining:
                return  # the next start picks the rest up
            index = len(self.steps) + sequence.index(name)  # its log file beside the steps'
            status = await self._handler(name, rows[name], ending, index)
            if status is None:
                return  # a second cancel stopped the handlers
            statuses[name] = status
        await self.write(ops.finish_all, self.run_id)

    async def _handler(self, name: str, row: dict, ending: dict, index: int) -> str | None:
        step = self.spec.handler(name)
        ctx = self.expr_context()
        ctx["run"] = {**ctx["run"], **ending}
        attempt = await self.write(ops.start_handler, self.run_id, name, row["role"],
                                   self.sup.epoch)
        if attempt is None:
            return None
        try:
            if step.if_ is not None and not evaluate_condition(step.if_, ctx, self.expr_limit):
                outcome: dict = {"status": "skipped", "error": "condition is false"}
            elif step.kind == "set":
                value = render(step.set, ctx, self.expr_limit)
                outcome = {"status": "succeeded", "output": value if isinstance(value, dict)
                           else {}}
            else:
                async with self.sup.step_slots:
                    outcome = await self._execute_handler(name, step, ctx, index, attempt)
        except WfeError as exc:
            outcome = {"status": "failed", "error": str(exc)}
        outcome = finite_outcome(await self.stored(lambda: mask_outcome(self.masker, outcome)))
        return await self.write(ops.finish_handler, self.run_id, name, row["role"], attempt,
                                outcome)

    async def _execute_handler(self, name: str, step: Any, expr: dict, index: int,
                               attempt: int) -> dict:
        from wfe.daemon.runner_steps import EXECUTORS

        ctx = StepContext(
            run_id=self.run_id, index=index, step=self.spec.effective_step(step),
            attempt=attempt, expr=expr, inputs=self.inputs,
            log_dir=self.sup.logs_dir / self.run_id, timeout=self.spec.effective_timeout(step),
            cancel_grace=self.sup.settings.cancel_grace,
            tail_bytes=self.sup.settings.log_tail_bytes, http=self.sup.http,
            env_passthrough=self.sup.settings.step_env_passthrough,
            expr_limit=self.expr_limit, procs=self.sup.reaper,
            keep_background=bool(step.keep_background),
            max_log_bytes=self.sup.settings.max_log_bytes,
            on_spawn=lambda pgid: self.write(ops.set_pgid, self.run_id, name, pgid))

        async def once() -> dict:
            self.sup.log_dir(self.run_id)
            return await EXECUTORS[step.kind](ctx)

        task = self.executing[index] = asyncio.ensure_future(self.stored(once))
        try:
            return await task
        except asyncio.CancelledError:
            if not self.killed:
                raise  # the daemon is stopping: the handler runs again after the restart
            return {"status": "cancelled", "error": "cancelled"}
        except Exception as exc:  # a bug in an executor must not wedge the handlers
            log.exception("handler %s of run %s crashed", name, self.run_id)
            return {"status": "failed", "error": f"internal error: {exc}"}
        finally:
            del self.executing[index]
