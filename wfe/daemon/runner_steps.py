"""One step's turn, by kind: decide whether it runs, record its start, execute, record the
result. The Runner (wfe.daemon.runner) decides which steps take a turn and when.

Each function keeps the Runner's mirror of the step's row (``self.steps[idx]``) equal to
what it committed, so the scheduler plans from the truth.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from typing import TYPE_CHECKING, Any

from wfe.daemon.faults import fault
from wfe.daemon.runner_base import RunnerPart
from wfe.daemon.runner_children import start_child
from wfe.daemon.runner_items import foreach_turn
from wfe.daemon.runner_stored import StoredMissing
from wfe.daemon.secrets import mask_outcome
from wfe.daemon.steps import StepContext
from wfe.daemon.steps import http as http_step
from wfe.daemon.steps import shell as shell_step
from wfe.daemon.store import ops_approvals, ops_callbacks
from wfe.daemon.store import ops_steps as ops
from wfe.engine.durations import parse_duration
from wfe.engine.expressions import evaluate_condition, render
from wfe.engine.retry import RetryPolicy
from wfe.engine.strictjson import finite_outcome
from wfe.errors import WfeError

if TYPE_CHECKING:
    pass

log = logging.getLogger("wfe.runner")
EXECUTORS = {"run": shell_step.execute, "http": http_step.execute}


class StepDriver(RunnerPart):
    """The half of the Runner that takes one step through its turn."""

    tasks: dict[int, asyncio.Task]
    halted: bool
    run_meta: dict[str, Any]  # id, template, version, owner
    depth: int

    def snapshot_state(self) -> dict:
        raise NotImplementedError

    async def open_step_reads(self, idx: int) -> dict:
        raise NotImplementedError

    turn_reads: dict[int, dict[str, list[str]]]

    async def step_turn(self, idx: int) -> bool:
        """Execute or skip a pending step; False when the run is no longer `running`."""
        row, step = self.steps[idx], self.spec.steps[idx]
        if row["status"] not in ("pending", "running"):
            await self.write(ops.fail_run, self.run_id, "invalid_state",
                             {"step": step.name, "status": row["status"]})
            return False
        try:
            await self.open_step_reads(idx)
        except StoredMissing as exc:
            return await self._fail_before_start(idx, str(exc))
        try:
            ctx = self.expr_context()
            if step.if_ is not None and not evaluate_condition(step.if_, ctx, self.expr_limit):
                return await self._skip(idx, "condition is false")
        except WfeError as exc:
            return await self._fail_before_start(idx, str(exc))
        return await self._execute(idx)

    async def resume_waiting(self, idx: int) -> bool:
        """A sleep or a callback step: done, timed out, or not yet (True: nothing changed or
        the run goes on)."""
        row, step = self.steps[idx], self.spec.steps[idx]
        if step.kind == "callback":
            got = await self.write(ops_callbacks.take, self.run_id, idx)
            if got is not None:
                return await self._finish(idx, row["attempt"],
                                          ops_callbacks.outcome(got["value"]))
        if row["wake_at"] is None or row["wake_at"] > time.time():
            return True
        if step.kind == "callback":
            return await self._finish(idx, row["attempt"], {
                "status": "failed", "error": "callback_timeout: no callback came in time"})
        return await self._finish(idx, row["attempt"], {"status": "succeeded", "output": {}})

    async def _execute(self, idx: int) -> bool:
        kind = self.spec.steps[idx].kind
        if self.spec.steps[idx].foreach is not None:
            return await foreach_turn(self, idx)
        if kind == "sleep":
            return await self._sleep(idx)
        if kind == "set":
            return await self._run_pure(idx)
        if kind == "approval":
            return await self._gate(idx)
        if kind == "callback":
            return await self._await_callback(idx)
        if kind == "workflow":
            return await start_child(self, idx)
        async with self.sup.step_slots:  # the daemon-wide limit on executing steps
            attempt = await self.write(ops.start_step, self.run_id, idx,
                                       self.spec.steps[idx].name, self.sup.epoch, None,
                                       self.turn_reads.get(idx))
            if attempt is None:
                return False
            fault("step_started")
            self.steps[idx].update(status="running", attempt=attempt)
            outcome = await self._run_executor(idx, attempt)
        return await self._finish(idx, attempt, outcome)

    async def _sleep(self, idx: int) -> bool:
        step = self.spec.steps[idx]
        assert step.sleep is not None  # the field that makes it a sleep step
        started = time.time()
        wake = started + parse_duration(step.sleep)
        attempt = await self.write(ops.start_step, self.run_id, idx, step.name, self.sup.epoch,
                                   wake, None, started)
        if attempt is None:
            return False
        self.steps[idx].update(status="waiting", attempt=attempt, wake_at=wake)
        return True

    async def _await_callback(self, idx: int) -> bool:
        step = self.spec.steps[idx]
        timeout = self.spec.effective_timeout(step)
        got = await self.write(ops_callbacks.await_callback, self.run_id, idx, step.name,
                               self.sup.epoch, timeout)
        if got is None:
            return False
        if "payload" in got:  # it came before the run got here
            return await self._finish(idx, got["attempt"],
                                      ops_callbacks.outcome(got["payload"]["value"]))
        self.steps[idx].update(status="waiting", attempt=got["attempt"],
                               wake_at=got["deadline"])
        return True

    async def _gate(self, idx: int) -> bool:
        """Open an approval gate: the step waits until someone (or the timeout) decides."""
        step = self.spec.steps[idx]
        spec = step.approval
        assert spec is not None  # StepSpec fills in a bare `approval:`
        try:
            message = render(spec.message or "", self.expr_context(), self.expr_limit)
        except WfeError as exc:
            return await self._fail_before_start(idx, str(exc))
        timeout = self.spec.effective_timeout(step)
        gate = {"message": self.masker.text(str(message)), "timeout": timeout,
                "on_timeout": spec.on_timeout, "approvers": list(spec.approvers or [])}
        # Nothing else executes: the run waits at the gate in the same transaction.
        park = not any(i != idx and not t.done() for i, t in self.tasks.items())
        opened = await self.write(ops_approvals.request_approval, self.run_id, idx,
                                  step.name, self.sup.epoch, gate, park)
        if opened is None:
            return False
        self.steps[idx].update(status="waiting", attempt=opened["attempt"],
                               wake_at=opened["expires_at"])
        return True

    async def _run_pure(self, idx: int) -> bool:
        step = self.spec.steps[idx]
        try:
            value = render(step.set, self.expr_context(), self.expr_limit)
            outcome = {"status": "succeeded", "output": value if isinstance(value, dict) else {}}
        except WfeError as exc:
            outcome = {"status": "failed", "error": str(exc)}
        outcome = finite_outcome(await mask_outcome(self.masker, outcome))
        if outcome["status"] != "succeeded":
            return await self._fail_before_start(idx, str(outcome["error"]))
        self.steps[idx].update(status="succeeded", output=outcome["output"])
        # Nothing outside the database acts on a pure step, so its start and its result
        # can share one transaction.
        verdict = await self.write(ops.pure_step, self.run_id, idx, step.name, self.sup.epoch,
                                   outcome, self.snapshot_state(), self.turn_reads.get(idx))
        return verdict == ops.CONTINUE

    async def _run_executor(self, idx: int, attempt: int) -> dict:
        step = self.spec.steps[idx]
        ctx = StepContext(
            run_id=self.run_id, index=idx, step=self.spec.effective_step(step), attempt=attempt,
            expr=self.expr_context(), inputs=self.inputs, log_dir=self.sup.logs_dir / self.run_id,
            timeout=self.spec.effective_timeout(step), cancel_grace=self.sup.settings.cancel_grace,
            tail_bytes=self.sup.settings.log_tail_bytes, http=self.sup.http,
            env_passthrough=self.sup.settings.step_env_passthrough,
            expr_limit=self.expr_limit,
            procs=self.sup.reaper, keep_background=self.keeps_background(step),
            max_log_bytes=self.sup.settings.max_log_bytes,
            on_spawn=lambda pgid: self.write(ops.set_pgid, self.run_id, idx, attempt, pgid))
        execute = EXECUTORS[step.kind]

        async def once() -> dict:
            self.sup.log_dir(self.run_id)  # created here: a full disk is waited out too
            return await execute(ctx)

        # A log that cannot be created on a full disk: no process started, so the same
        # attempt is tried again once there is space (it is the cancel's target meanwhile).
        task = self.executing[idx] = asyncio.ensure_future(self.stored(once))
        try:
            return await task
        except asyncio.CancelledError:
            if not self.killed:
                raise  # the daemon is stopping: leave the attempt for recovery
            return {"status": "cancelled", "error": "cancelled"}
        except WfeError as exc:
            return {"status": "failed", "error": str(exc)}
        except Exception as exc:  # a bug in an executor must not wedge the run
            log.exception("step %s of run %s crashed", step.name, self.run_id)
            return {"status": "failed", "error": f"internal error: {exc}"}
        finally:
            del self.executing[idx]

    def keeps_background(self, step: Any) -> bool:
        keep = getattr(step, "keep_background", None)
        return self.sup.settings.step_keep_background if keep is None else bool(keep)

    async def finish_turn(self, idx: int, attempt: int, outcome: dict) -> bool:
        """A foreach step's end: its items had their retries, the step has none of its own."""
        return await self._finish(idx, attempt, outcome, retry=False)

    async def _finish(self, idx: int, attempt: int, outcome: dict, retry: bool = True) -> bool:
        step = self.spec.steps[idx]
        # Masked before it is recorded anywhere; a NaN or Infinity in its output fails it.
        outcome = finite_outcome(await self.stored(lambda: mask_outcome(self.masker, outcome)))
        retry_at = None
        if retry and outcome["status"] in ("failed", "timed_out"):
            policy = RetryPolicy.from_spec(self.spec.effective_retry(step))
            since = self.steps[idx].get("budget_from") or 0
            if policy.should_retry(attempt, outcome["status"], outcome.get("exit_code"), since):
                retry_at = time.time() + policy.delay(attempt - since, random.random())
        if outcome["status"] == "succeeded":
            self.steps[idx].update(status="succeeded", output=outcome.get("output") or {})
        fault("before_step_commit")
        verdict, status = await self.write(ops.finish_step, self.run_id, idx, step.name,
                                           attempt, outcome, self.snapshot_state(), retry_at)
        fault("after_step_commit")
        self.steps[idx].update(status=status, error=outcome.get("error"),
                               wake_at=retry_at if status == "pending" else None)
        if retry_at is not None:
            self.sup.timer_poke(retry_at)
        return verdict == ops.CONTINUE

    async def _skip(self, idx: int, why: str) -> bool:
        self.steps[idx]["status"] = "skipped"
        step = self.spec.steps[idx]
        verdict = await self.write(ops.skip_step, self.run_id, idx, step.name,
                                   self.snapshot_state(), why)
        return verdict == ops.CONTINUE

    async def _fail_before_start(self, idx: int, error: str) -> bool:
        step = self.spec.steps[idx]
        attempt = await self.write(ops.start_step, self.run_id, idx, step.name, self.sup.epoch)
        if attempt is None:
            return False
        return await self._finish(idx, attempt, {"status": "failed", "error": error})
