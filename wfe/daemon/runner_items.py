"""A `foreach` step's turn: the list evaluated once and stored, then one execution per item,
at most `concurrency` at once, each item with its own attempts, retries and log.

Which items start, and what the step's verdict is, is the engine's answer
(wfe.engine.fanout.plan_items); this module acts on it. Each item's start is committed
before it executes and its result before anything acts on it, so after a crash only the
items that were executing run again.
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import TYPE_CHECKING, Any

from wfe.daemon.faults import fault
from wfe.daemon.secrets import mask_outcome
from wfe.daemon.steps import StepContext
from wfe.daemon.steps import http as http_step
from wfe.daemon.steps import shell as shell_step
from wfe.daemon.store import ops_items
from wfe.daemon.store import ops_steps as ops
from wfe.engine.expressions import render
from wfe.engine.fanout import ItemsVerdict, item_env, item_list, plan_items
from wfe.engine.retry import RetryPolicy
from wfe.engine.strictjson import finite_outcome
from wfe.errors import WfeError

if TYPE_CHECKING:
    from wfe.daemon.runner_steps import StepDriver

log = logging.getLogger("wfe.runner")
EXECUTORS = {"run": shell_step.execute, "http": http_step.execute}


async def foreach_turn(d: StepDriver, idx: int) -> bool:
    """The step's whole turn; False when the run is no longer `running`."""
    step = d.spec.steps[idx]
    attempt = await d.write(ops.start_step, d.run_id, idx, step.name, d.sup.epoch)
    if attempt is None:
        return False
    fault("step_started")
    d.steps[idx].update(status="running", attempt=attempt)
    rows = await d.write(ops_items.resume_items, d.run_id, idx)
    if rows is None:  # the first start: the list is evaluated now, once, and kept
        try:
            value = render(step.foreach, d.expr_context(), d.expr_limit)
            values = item_list(value, d.sup.settings.max_foreach_items, step.name)
        except WfeError as exc:
            return await d.finish_turn(idx, attempt, {"status": "failed", "error": str(exc)})
        rows = await d.write(ops_items.store_items, d.run_id, idx, step.name, values)
    fan = FanOut(d, idx, rows)
    task = d.executing[idx] = asyncio.ensure_future(fan.run())
    try:
        outcome = await task
    finally:
        d.executing.pop(idx, None)
    if outcome is None:  # paused or draining with items left: they run when the run goes on
        await d.write(ops_items.suspend_step, d.run_id, idx, step.name, attempt)
        d.steps[idx].update(status="pending")
        return False
    return await d.finish_turn(idx, attempt, outcome)


class FanOut:
    def __init__(self, d: StepDriver, idx: int, rows: list[dict]) -> None:
        self.d, self.idx, self.rows = d, idx, rows
        self.step = d.spec.steps[idx]
        self.concurrency = self.step.concurrency or d.sup.settings.foreach_concurrency
        # Only what did not get done runs: a committed result is never run again.
        self.states = [r["status"] if r["status"] in ("succeeded", "failed", "cancelled")
                       else "pending" for r in rows]
        self.active: dict[int, asyncio.Task] = {}
        self.cancelling = False  # fail fast, or the run was cancelled: items end as cancelled
        self.stopped = False  # the run stopped being `running`: nothing new starts

    async def run(self) -> dict | None:
        """The step's outcome, or None when it is suspended with items left."""
        try:
            return await self._loop()
        except asyncio.CancelledError:
            self.cancelling = self.d.killed
            await self._stop_all()
            if not self.d.killed:
                raise  # the daemon is stopping: the attempts are left for recovery
            await self.d.write(ops_items.cancel_items, self.d.run_id, self.idx)
            return {"status": "cancelled", "error": "cancelled"}

    async def _loop(self) -> dict | None:
        while True:
            halted = self.stopped or self.d.halted or self.d.sup.draining
            plan = plan_items(self.states, self.concurrency, self.step.fail_fast is not False,
                              halted)
            for i in plan.start:
                self.states[i] = "active"
                self.active[i] = asyncio.create_task(self._item(i))
            if plan.cancel and not self.cancelling:
                self.cancelling = True
                for task in self.active.values():
                    task.cancel()
            if plan.verdict is not None:
                return await self._verdict(plan.verdict)
            await asyncio.wait(self.active.values(), return_when=asyncio.FIRST_COMPLETED)
            for i, task in list(self.active.items()):
                if task.done():
                    del self.active[i]
                    self.states[i] = task.result()

    async def _stop_all(self) -> None:
        for task in self.active.values():
            task.cancel()
        await asyncio.gather(*self.active.values(), return_exceptions=True)
        self.active.clear()

    async def _verdict(self, verdict: ItemsVerdict) -> dict | None:
        if verdict == ItemsVerdict.SUSPENDED:
            return None
        if verdict == ItemsVerdict.SUCCEEDED:
            outputs = [r["output"] or {} for r in self.rows]
            return {"status": "succeeded",
                    "output": {"items": len(self.rows), "outputs": outputs}}
        await self.d.write(ops_items.cancel_items, self.d.run_id, self.idx)
        if verdict == ItemsVerdict.CANCELLED:
            return {"status": "cancelled", "error": "cancelled"}
        failed = [i for i, s in enumerate(self.states) if s == "failed"]
        first = failed[0]
        return {"status": "failed", "error": f"{len(failed)} of {len(self.rows)} items failed;"
                f" item {first}: {self.rows[first].get('error')}"}

    async def _item(self, i: int) -> str:
        """One item through its attempts; its final state (``pending``: not started, the
        run stopped)."""
        d, row = self.d, self.rows[i]
        policy = RetryPolicy.from_spec(d.spec.effective_retry(self.step))
        while True:
            attempt = await d.write(ops_items.start_item, d.run_id, self.idx, i, d.sup.epoch)
            if attempt is None:
                self.stopped = True
                return "pending"
            fault("item_started")
            raw = await self._attempt(i, attempt)
            outcome = finite_outcome(await d.stored(
                lambda raw=raw: mask_outcome(d.masker, raw)))
            again = (outcome["status"] in ("failed", "timed_out") and not self.cancelling
                     and policy.should_retry(attempt, outcome["status"],
                                             outcome.get("exit_code"), row["budget_from"]))
            status = await d.write(ops_items.finish_item, d.run_id, self.idx, i, attempt,
                                   outcome, again)
            fault("after_item_commit")
            row.update(output=outcome.get("output") or {}, error=outcome.get("error"))
            if status != "pending":
                return status
            try:
                await asyncio.sleep(policy.delay(attempt - row["budget_from"], random.random()))
            except asyncio.CancelledError:
                if self.cancelling or d.killed:
                    return "cancelled"
                raise

    async def _attempt(self, i: int, attempt: int) -> dict:
        d, value = self.d, self.rows[i]["value"]
        expr = {**d.expr_context(), "item": value, "index": i}
        if self.step.kind == "set":
            try:
                out = render(self.step.set, expr, d.expr_limit)
                return {"status": "succeeded", "output": out if isinstance(out, dict) else {}}
            except WfeError as exc:
                return {"status": "failed", "error": str(exc)}
        async with d.sup.step_slots:  # every item's process counts against the global limit
            try:
                return await d.stored(lambda: self._execute(i, attempt, expr, value))
            except asyncio.CancelledError:
                if self.cancelling or d.killed:
                    return {"status": "cancelled", "error": "cancelled"}
                raise
            except WfeError as exc:
                return {"status": "failed", "error": str(exc)}
            except Exception as exc:  # a bug in an executor must not wedge the run
                log.exception("item %d of step %s of run %s crashed", i, self.step.name,
                              d.run_id)
                return {"status": "failed", "error": f"internal error: {exc}"}

    async def _execute(self, i: int, attempt: int, expr: dict, value: Any) -> dict:
        d, step = self.d, self.step
        settings = d.sup.settings
        ctx = StepContext(
            run_id=d.run_id, index=self.idx, step=d.spec.effective_step(step), attempt=attempt,
            expr=expr, inputs=d.inputs, log_dir=d.sup.logs_dir / d.run_id,
            timeout=d.spec.effective_timeout(step), cancel_grace=settings.cancel_grace,
            tail_bytes=settings.log_tail_bytes, http=d.sup.http,
            env_passthrough=settings.step_env_passthrough, expr_limit=d.expr_limit,
            procs=d.sup.reaper, keep_background=d.keeps_background(step),
            max_log_bytes=settings.max_log_bytes, extra_env=item_env(i, value), item=i,
            on_spawn=lambda pgid: d.write(ops_items.set_item_pgid, d.run_id, self.idx, i,
                                          attempt, pgid))
        d.sup.log_dir(d.run_id)  # created here: a full disk is waited out too
        return await EXECUTORS[step.kind](ctx)
