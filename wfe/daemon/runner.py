"""A Runner drives one run: claim it, execute the next step, commit, go on.

It holds nothing that is not in the database: what it keeps in memory mirrors the rows it
committed. It exits whenever the run has nothing to execute now (paused, waiting, asleep,
backing off, finished); the timer loop or a request wakes the run again.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from typing import TYPE_CHECKING

from wfe.daemon.faults import fault
from wfe.daemon.secrets import SecretUnavailable, mask_outcome, open_inputs
from wfe.daemon.steps import StepContext
from wfe.daemon.steps import http as http_step
from wfe.daemon.steps import shell as shell_step
from wfe.daemon.storage import until_stored
from wfe.daemon.store import ops_approvals, ops_callbacks
from wfe.daemon.store import ops_steps as ops
from wfe.daemon.store.util import loads
from wfe.engine.durations import parse_duration
from wfe.engine.expressions import evaluate_condition, render
from wfe.engine.retry import RetryPolicy
from wfe.engine.strictjson import finite_outcome
from wfe.errors import WfeError

if TYPE_CHECKING:
    from wfe.daemon.supervisor import Supervisor

log = logging.getLogger("wfe.runner")
DONE = ("succeeded", "skipped")
EXECUTORS = {"run": shell_step.execute, "http": http_step.execute}


class Runner:
    def __init__(self, sup: Supervisor, run_id: str) -> None:
        self.sup = sup
        self.run_id = run_id
        self._step_task: asyncio.Task | None = None
        self.killed = False

    async def write(self, op, *args):
        """Commit ``op``; while the disk is full, wait and try again: the run goes on
        once there is space, with nothing lost (a failed commit changed nothing)."""
        return await self._stored(lambda: self.sup.store.write(op, *args))

    async def _stored(self, fn):
        return await until_stored(fn, self.sup.settings.storage_retry_interval,
                                  f"run {self.run_id}")

    def kill(self) -> None:
        """The run was cancelled: stop the executing step (its process group is killed)."""
        self.killed = True
        if self._step_task is not None:
            self._step_task.cancel()

    async def run(self) -> None:
        claim = await self.write(ops_approvals.claim, self.run_id)
        if claim is None:
            return
        try:
            self._load(claim)
        except SecretUnavailable as exc:
            await self.write(ops.fail_run, self.run_id, "secret_unavailable", {
                "input": exc.name, "error": "the secret input does not open with this"
                " daemon's secret.key (was the key replaced?)"})
            return
        if self.masker:  # an attempt a crash cut short left its log unmasked
            await self._stored(lambda: asyncio.to_thread(
                self.masker.directory, self.sup.log_dir(self.run_id)))
        while await self._advance():
            pass

    def _load(self, claim: dict) -> None:
        run, tpl = claim["run"], claim["template"]
        self.spec = self.sup.template_spec(run["template_id"], tpl["spec"])
        self.steps = claim["steps"]
        for s in self.steps:
            s["output"] = loads(s["output"]) or {}
        # Secret inputs are sealed at rest: steps get them in clear, every record masked.
        self.stored_input = loads(run["input"])
        secret = {n for n, v in self.spec.variables.items() if getattr(v, "secret", False)}
        self.inputs, self.masker = open_inputs(self.stored_input, self.sup.sealer, self.run_id, secret)
        self.run_meta = {"id": run["id"], "template": tpl["name"], "version": tpl["version"],
                         "owner": run["owner"]}

    def _next_index(self) -> int | None:
        return next((s["idx"] for s in self.steps if s["status"] not in DONE), None)

    async def _advance(self) -> bool:
        """Execute or resume the next step; False when the Runner should exit."""
        if self.sup.draining:  # the daemon is stopping: the next start picks the run up
            return False
        idx = self._next_index()
        if idx is None:
            await self.write(ops.complete_run, self.run_id)
            return False
        row, step = self.steps[idx], self.spec.steps[idx]
        if row["status"] == "waiting":
            return await self._resume_waiting(idx)
        due = row["wake_at"]
        if row["status"] == "pending" and due is not None and due > time.time():
            await self.write(ops.hibernate, self.run_id, due)  # backing off before a retry
            return False
        if row["status"] not in ("pending", "running"):
            await self.write(ops.fail_run, self.run_id, "invalid_state",
                             {"step": step.name, "status": row["status"]})
            return False
        try:
            ctx = self.expr_context()
            if step.if_ is not None and not evaluate_condition(step.if_, ctx, self.expr_limit):
                return await self._skip(idx, "condition is false")
        except WfeError as exc:
            return await self._fail_before_start(idx, str(exc))
        return await self._execute(idx)

    async def _resume_waiting(self, idx: int) -> bool:
        """A sleep or a callback step whose run was woken: done, timed out, or not yet."""
        row, step = self.steps[idx], self.spec.steps[idx]
        if step.kind == "callback":
            got = await self.write(ops_callbacks.take, self.run_id, idx)
            if got is not None:
                return await self._finish(idx, row["attempt"], ops_callbacks.outcome(got["value"]))
        if row["wake_at"] is not None and row["wake_at"] > time.time():
            await self.write(ops.hibernate, self.run_id, row["wake_at"])
            return False
        if step.kind == "callback":
            return await self._finish(idx, row["attempt"], {
                "status": "failed", "error": "callback_timeout: no callback came in time"})
        return await self._finish(idx, row["attempt"], {"status": "succeeded", "output": {}})

    async def _await_callback(self, idx: int) -> bool:
        step = self.spec.steps[idx]
        timeout = self.spec.effective_timeout(step)
        got = await self.write(ops_callbacks.await_callback, self.run_id, idx, step.name,
                               self.sup.epoch, timeout)
        if got is None:
            return False
        if "payload" in got:  # it came before the run got here
            return await self._finish(idx, got["attempt"], ops_callbacks.outcome(got["payload"]["value"]))
        self.sup.timer_poke()
        return False

    async def _execute(self, idx: int) -> bool:
        step = self.spec.steps[idx]
        if step.kind == "sleep":
            assert step.sleep is not None  # the field that makes it a sleep step
            wake = time.time() + parse_duration(step.sleep)
            attempt = await self.write(ops.start_step, self.run_id, idx, step.name,
                                       self.sup.epoch, wake)
            if attempt is not None:
                self.sup.timer_poke(wake)
            return False
        if step.kind == "set":
            return await self._run_pure(idx)
        if step.kind == "approval":
            return await self._gate(idx)
        if step.kind == "callback":
            return await self._await_callback(idx)
        attempt = await self.write(ops.start_step, self.run_id, idx, step.name, self.sup.epoch)
        if attempt is None:
            return False
        fault("step_started")
        self.steps[idx].update(status="running", attempt=attempt)
        outcome = await self._run_executor(idx, attempt)
        return await self._finish(idx, attempt, outcome)

    async def _gate(self, idx: int) -> bool:
        """Stop at an approval gate: the run hibernates until someone (or the timeout) decides."""
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
        approval_id = await self.write(ops_approvals.request_approval, self.run_id, idx,
                                       step.name, self.sup.epoch, gate)
        if approval_id is not None and timeout is not None:
            self.sup.timer_poke()
        return False

    async def _run_pure(self, idx: int) -> bool:
        step = self.spec.steps[idx]
        try:
            value = render(step.set, self.expr_context(), self.expr_limit)
            outcome = {"status": "succeeded", "output": value if isinstance(value, dict) else {}}
        except WfeError as exc:
            outcome = {"status": "failed", "error": str(exc)}
        outcome = finite_outcome(await mask_outcome(self.masker, outcome))
        if outcome["status"] == "succeeded":
            self.steps[idx].update(status="succeeded", output=outcome["output"])
        # Nothing outside the database acts on a pure step, so its start and its result
        # can share one transaction.
        verdict = await self.write(ops.pure_step, self.run_id, idx, step.name, self.sup.epoch,
                                   outcome, self.snapshot_state())
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
            procs=self.sup.reaper, keep_background=self._keeps_background(step),
            max_log_bytes=self.sup.settings.max_log_bytes,
            on_spawn=lambda pgid: self.write(ops.set_pgid, self.run_id, idx, attempt, pgid))
        execute = EXECUTORS[step.kind]

        async def once() -> dict:
            self.sup.log_dir(self.run_id)  # created here: a full disk is waited out too
            return await execute(ctx)

        # A log that cannot be created on a full disk: no process started, so the same
        # attempt is tried again once there is space (it is the cancel's target meanwhile).
        self._step_task = asyncio.ensure_future(self._stored(once))
        try:
            return await self._step_task
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
            self._step_task = None

    def _keeps_background(self, step) -> bool:
        keep = getattr(step, "keep_background", None)
        return self.sup.settings.step_keep_background if keep is None else keep

    async def _finish(self, idx: int, attempt: int, outcome: dict) -> bool:
        step = self.spec.steps[idx]
        # Masked before it is recorded anywhere; a NaN or Infinity in its output fails it.
        outcome = finite_outcome(await self._stored(lambda: mask_outcome(self.masker, outcome)))
        retry_at = None
        if outcome["status"] in ("failed", "timed_out"):
            policy = RetryPolicy.from_spec(self.spec.effective_retry(step))
            since = self.steps[idx].get("budget_from") or 0
            if policy.should_retry(attempt, outcome["status"], outcome.get("exit_code"), since):
                retry_at = time.time() + policy.delay(attempt - since, random.random())
        if outcome["status"] == "succeeded":
            self.steps[idx].update(status="succeeded", output=outcome.get("output") or {})
        fault("before_step_commit")
        verdict = await self.write(ops.finish_step, self.run_id, idx, step.name, attempt, outcome,
                                   self.snapshot_state(), retry_at)
        fault("after_step_commit")
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

    @property
    def expr_limit(self) -> int:
        return self.sup.settings.max_expression_bytes

    def expr_context(self) -> dict:
        steps = {s["name"]: {"output": s["output"], "status": s["status"],
                             "callback_url": self.sup.callback_url(self.run_id, s["name"])
                             if s["kind"] == "callback" else None}
                 for s in self.steps}
        return {"input": self.inputs, "steps": steps, "run": self.run_meta}

    def snapshot_state(self) -> dict:
        outputs = {s["name"]: s["output"] for s in self.steps if s["status"] in DONE}
        return {"input": self.stored_input, "outputs": outputs, "position": self._next_index()}
