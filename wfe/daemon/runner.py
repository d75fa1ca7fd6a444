"""A Runner drives one run: claim it, start every step the graph makes ready, commit each
result as it comes, go on.

It holds nothing that is not in the database: what it keeps in memory mirrors the rows it
committed. It exits whenever the run has nothing to execute now (paused, waiting at a gate,
asleep, backing off, finished); the timer loop or a request wakes the run again. Which steps
may start is the engine's answer (wfe.engine.graph.plan); this module only acts on it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from wfe.daemon.runner_children import children_ended
from wfe.daemon.runner_handlers import HandlerDriver
from wfe.daemon.runner_steps import StepDriver
from wfe.daemon.runner_stored import StoredReads
from wfe.daemon.secrets import SecretUnavailable, open_inputs
from wfe.daemon.storage import until_stored
from wfe.daemon.store import ops_approvals
from wfe.daemon.store import ops_steps as ops
from wfe.daemon.store.util import loads
from wfe.engine.graph import Verdict, plan
from wfe.engine.states import RunStatus

if TYPE_CHECKING:
    from wfe.daemon.supervisor import Supervisor

log = logging.getLogger("wfe.runner")
DONE = ("succeeded", "skipped")


class Runner(StoredReads, StepDriver, HandlerDriver):
    def __init__(self, sup: Supervisor, run_id: str) -> None:
        self.sup = sup
        self.run_id = run_id
        self.tasks: dict[int, asyncio.Task] = {}  # a step's whole turn: start to commit
        self.executing: dict[int, asyncio.Task] = {}  # a step's process or request
        self.killed = False
        self.halted = False  # nothing new starts: the run stopped being `running`
        self.ended = False  # the graph reached its verdict: the run's handlers may be due
        self._poked = asyncio.Event()
        self.depth, self.parent_run_id = 0, None  # where it sits among sub-workflows

    async def write(self, op, *args):
        """Commit ``op``; while the disk is full, wait and try again: the run goes on
        once there is space, with nothing lost (a failed commit changed nothing)."""
        return await self.stored(lambda: self.sup.write_for(self.run_id, op, *args))

    async def stored(self, fn):
        return await until_stored(fn, self.sup.settings.storage_retry_interval,
                                  f"run {self.run_id}")

    def kill(self) -> None:
        """The run was cancelled or failed: stop every executing step (process trees too)."""
        self.killed = self.halted = True
        for task in self.executing.values():
            task.cancel()

    def poke(self) -> None:
        """Something changed in the database (a decision, a callback, a pause): look again."""
        self._poked.set()

    async def run(self) -> None:
        cluster = self.sup.cluster
        if cluster is None:
            await self._run()
            return
        if not await self.stored(lambda: cluster.acquire(self.run_id)):
            return  # another node executes it; it was told to look again
        try:
            await self._run()
        finally:
            await self.stored(lambda: cluster.release(self.run_id))

    async def _run(self) -> None:
        claim = await self.write(ops_approvals.claim, self.run_id)
        if claim is None:
            await self.run_handlers()  # an ended run's undo, on_failure, finally (if due)
            return
        try:
            self._load(claim)
        except SecretUnavailable as exc:
            await self.write(ops.fail_run, self.run_id, "secret_unavailable", {
                "input": exc.name, "error": "the secret input does not open with this"
                " daemon's secret.key (was the key replaced?)"})
            return
        await self.open_template_secrets()
        if self.masker:  # an attempt a crash cut short left its log unmasked
            await self.stored(lambda: asyncio.to_thread(
                self.masker.directory, self.sup.log_dir(self.run_id)))
        try:
            await self._drive()
        finally:
            for task in self.tasks.values():
                task.cancel()
            if self.tasks:
                await asyncio.gather(*self.tasks.values(), return_exceptions=True)
        children_ended(self)
        # A run that hibernates, or has no handlers, costs no extra write here.
        if self.ended and self.spec.handler_steps:
            await self.run_handlers()

    def _load(self, claim: dict) -> None:
        run, tpl = claim["run"], claim["template"]
        self.spec = self.sup.template_spec(run["template_id"], tpl["spec"])
        self.needs = self.spec.needs
        self.index = {s.name: i for i, s in enumerate(self.spec.steps)}
        self.steps = claim["steps"]
        for s in self.steps:
            s["output"] = loads(s["output"]) or {}
        # Secret inputs are sealed at rest: steps get them in clear, every record masked.
        self.stored_input = loads(run["input"])
        secret = {n for n, v in self.spec.variables.items() if getattr(v, "secret", False)}
        self.inputs, self.masker = open_inputs(self.stored_input, self.sup.sealer, self.run_id,
                                               secret)
        self.depth, self.parent_run_id = run["depth"], run["parent_run_id"]
        self.run_meta = {"id": run["id"], "template": tpl["name"], "version": tpl["version"],
                         "owner": run["owner"]}
        self.init_stored()

    # ---- the loop --------------------------------------------------------------------------

    async def _drive(self) -> None:
        while True:
            if self._poked.is_set():
                self._poked.clear()
                await self._reload()
            await self._settle_waiting()
            now = time.time()
            later = [s["name"] for s in self.steps
                     if s["status"] == "pending" and (s["wake_at"] or 0) > now]
            statuses = {s["name"]: s["status"] for s in self.steps}
            # The daemon is stopping: what runs finishes, nothing new starts (the next
            # start picks the run up).
            halted = self.halted or self.sup.draining
            step_plan = plan(self.needs, statuses, halted, later)
            for name in step_plan.ready:
                idx = self.index[name]
                if idx not in self.tasks:
                    self.tasks[idx] = asyncio.create_task(self._turn(idx))
            if not self.tasks:
                if not self.sup.draining:
                    await self._rest(step_plan.verdict)
                return
            await self._wait()

    async def _turn(self, idx: int) -> None:
        """One step's turn; a False from it means the run is no longer `running`."""
        go_on = await self.step_turn(idx)
        if not go_on:
            self.halted = True
        if self.steps[idx]["status"] == "failed" and not self.killed:
            # Fail fast: the run failed with this step, so the branches beside it stop.
            self.kill()

    async def _wait(self) -> None:
        """Until a step's turn ends, a poke, or the next timer of a waiting step."""
        poked = asyncio.ensure_future(self._poked.wait())
        try:
            async with asyncio.timeout(self._next_timer()):
                await asyncio.wait([*self.tasks.values(), poked],
                                   return_when=asyncio.FIRST_COMPLETED)
        except TimeoutError:
            pass
        finally:
            poked.cancel()
        for idx, task in list(self.tasks.items()):
            if task.done():
                del self.tasks[idx]
                task.result()  # a bug in a turn is the Runner's crash, handled as such

    def _next_timer(self) -> float | None:
        """Seconds until a waiting step (a sleep, a callback's timeout) or a backoff is due."""
        times = [s["wake_at"] for s in self.steps
                 if s["wake_at"] is not None and s["status"] in ("waiting", "pending")]
        if not times:
            return None
        return max(0.0, min(times) - time.time())

    async def _reload(self) -> None:
        """Statuses as the database has them now (a decision or a cancel from the API)."""
        run_status, rows = await self.write(ops.step_states, self.run_id)
        for row in rows:
            mine = self.steps[row["idx"]]
            if row["idx"] not in self.tasks:
                mine.update(status=row["status"], wake_at=row["wake_at"],
                            output=loads(row["output"]) or {}, attempt=row["attempt"])
        if run_status != RunStatus.RUNNING:
            self.halted = True
            if RunStatus(run_status).terminal and self.executing:
                self.kill()

    async def _settle_waiting(self) -> None:
        """Waiting steps whose time came, or whose callback arrived, finish now."""
        if self.halted:
            return
        gates_due = False
        for row in self.steps:
            if row["status"] != "waiting" or row["idx"] in self.tasks:
                continue
            if self.spec.steps[row["idx"]].kind == "approval":
                gates_due = gates_due or (row["wake_at"] or float("inf")) <= time.time()
            elif not await self.resume_waiting(row["idx"]):
                self.halted = True
        if gates_due:  # the gate's timeout decides, as the timer loop would have
            await self.write(ops_approvals.expire_all_due, self.run_id)
            await self._reload()

    async def _rest(self, verdict: Verdict | None) -> None:
        """Nothing executes: end the run, or let it hibernate until something is due."""
        self.ended = verdict in (Verdict.COMPLETED, Verdict.FAILED, Verdict.CANCELLED)
        if verdict == Verdict.COMPLETED:
            await self.write(ops.complete_run, self.run_id)
        elif verdict == Verdict.FAILED:
            failed = next(s for s in self.steps if s["status"] == "failed")
            await self.write(ops.fail_run, self.run_id, "step_failed",
                             {"step": failed["name"], "error": failed.get("error")})
        elif verdict != Verdict.CANCELLED:
            await self.write(ops.rest_run, self.run_id)
            self.sup.timer_poke()

    # ---- what steps read -------------------------------------------------------------------

    def expr_context(self) -> dict:
        steps = {s["name"]: {"output": s["output"], "status": s["status"],
                             "callback_url": self.sup.callback_url(self.run_id, s["name"])
                             if s["kind"] == "callback" else None}
                 for s in self.steps}
        for s in self.steps:  # a foreach step's items' outputs, in item order
            if self.spec.steps[s["idx"]].foreach is not None:
                steps[s["name"]]["outputs"] = (s["output"] or {}).get("outputs")
        return {"input": self.inputs, "steps": steps, "run": self.run_meta,
                **self.stored_context()}

    def snapshot_state(self) -> dict:
        outputs = {s["name"]: s["output"] for s in self.steps if s["status"] in DONE}
        skipped = [s["name"] for s in self.steps if s["status"] == "skipped"]
        # current_step: the first step not done yet (the step count once all are)
        position = next((s["idx"] for s in self.steps if s["status"] not in DONE),
                        len(self.steps))
        return {"input": self.stored_input, "outputs": outputs, "skipped": skipped,
                "position": position}

