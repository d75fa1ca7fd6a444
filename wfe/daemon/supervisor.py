"""The supervisor: live Runners, the queue of runs waiting for a slot, and background loops.

A Runner exists only while its run has a step to execute. Waking a run is idempotent; a
wake that arrives while the run's Runner is still exiting makes it claim the run again.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING

from wfe.config import Settings
from wfe.daemon import retention
from wfe.daemon.faults import fault
from wfe.daemon.procs import kill_leftovers
from wfe.daemon.reaper import Reaper
from wfe.daemon.runner import Runner
from wfe.daemon.steps import logcap
from wfe.daemon.store import (
    Store,
    ops_callbacks,
    ops_children,
    ops_handlers,
    ops_idempotency,
    ops_items,
    ops_recovery,
    ops_schedules,
    ops_steps,
    timer_queries,
)
from wfe.daemon.store.pg.lease import Fenced
from wfe.daemon.store.util import is_full
from wfe.engine.spec import TemplateSpec

if TYPE_CHECKING:
    import aiohttp

    from wfe.daemon.cluster import Cluster
    from wfe.daemon.secrets import Sealer

log = logging.getLogger("wfe.supervisor")
RUNNER_CRASH_BACKOFF = 1.0


def _holds_slot(runner: Runner) -> bool:
    spec = getattr(runner, "spec", None)  # unset when the run was not claimed
    return spec is not None and spec.concurrency is not None


class Supervisor:
    def __init__(self, store: Store, settings: Settings, logs_dir: Path) -> None:
        self.store = store
        self.settings = settings
        self.logs_dir = logs_dir
        self.epoch = 0
        self.http: aiohttp.ClientSession | None = None  # set by the app
        self.sealer: Sealer | None = None  # seals secret inputs, set by the app
        self.base_url = ""  # where the daemon listens, set once it does (for callback URLs)
        self.callback_key = b""
        self.cluster: Cluster | None = None  # set by the app on a shared database
        self.live: dict[str, asyncio.Task] = {}
        self.runners: dict[str, Runner] = {}
        self._queue: deque[str] = deque()
        self._queued: set[str] = set()
        self._rewake: set[str] = set()
        self._specs: dict[str, TemplateSpec] = {}
        self._poke = asyncio.Event()
        self._loops: list[asyncio.Task] = []
        self._stopping = False
        self.draining = False
        self._crash_tasks: set[asyncio.Task] = set()
        self.reaper = Reaper()
        # Steps executing at once across all runs (a run's branches each take one).
        self.step_slots = asyncio.Semaphore(settings.max_concurrent_steps)
        # A schedule's fire waits for a run to end (buffer_one): a run's end pokes the timer.
        self._sched_buffered = True

    # ---- start-up and shut-down ----------------------------------------------------------

    async def recover(self) -> list[str]:
        """Before serving: close what a dead daemon left running, kill its step processes."""
        self.epoch = await self.store.write(ops_recovery.next_epoch)
        self.callback_key = await self.store.write(ops_callbacks.callback_key)
        if self.cluster is not None:  # other nodes' attempts are theirs: see Cluster.recover
            return await self.cluster.recover()
        attempts = await self.store.write(ops_recovery.interrupted_attempts)
        attempts += await self.store.write(ops_items.interrupted_item_attempts)
        attempts += await self.store.write(ops_handlers.interrupted)
        await asyncio.to_thread(kill_leftovers, attempts)
        # Their logs were being punched, never capped: cap them now their writers are gone.
        for run_id in sorted({a["run_id"] for a in attempts}):
            await asyncio.to_thread(logcap.cap_directory, self.logs_dir / run_id,
                                    self.settings.max_log_bytes)
        fault("recovery")
        revived = await self.store.write(ops_recovery.recover, self.settings.max_recoveries)
        await self.store.write(ops_handlers.recover)
        if revived:
            log.info("recovered %d interrupted runs", len(revived))
        return revived

    def start(self) -> None:
        self._loops = [
            asyncio.create_task(self._watch(self._timer_loop), name="wfe-timer"),
            asyncio.create_task(self._watch(self._heartbeat_loop), name="wfe-heartbeat"),
            asyncio.create_task(self._watch(self._procs_loop), name="wfe-procs"),
            # Caps the logs of steps that run long; a short one is capped as it ends.
            asyncio.create_task(self._watch(self._log_cap_loop), name="wfe-log-cap"),
            asyncio.create_task(self._watch(self._retention_loop), name="wfe-retention"),
        ]
        if self.cluster is not None:
            self._loops.append(asyncio.create_task(self._watch(self.cluster.takeover_loop),
                                                   name="wfe-takeover"))

    async def drain(self, grace: float, now: asyncio.Event) -> None:
        """Start no new step; let running ones finish and commit, for up to ``grace``
        seconds or until ``now`` is set. What still runs then is interrupted by stop()."""
        self.draining = True
        self._queue.clear()
        self._queued.clear()
        self._rewake.clear()
        tasks = list(self.live.values())
        if not tasks or grace <= 0 or now.is_set():
            return
        log.info("stopping: waiting up to %gs for %d running steps", grace, len(tasks))
        # Waiting on the tasks, never through gather: cancelling that would cancel them.
        finished = asyncio.ensure_future(asyncio.wait(tasks))
        hurry = asyncio.ensure_future(now.wait())
        try:
            await asyncio.wait([finished, hurry], timeout=grace,
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            finished.cancel()
            hurry.cancel()

    async def stop(self) -> None:
        self._stopping = True
        for task in self._loops:
            task.cancel()
        tasks = [*self.live.values(), *self._crash_tasks]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*self._loops, *tasks, return_exceptions=True)

    async def _watch(self, loop_fn) -> None:
        """A background loop that dies is logged and started again, never lost silently."""
        while not self._stopping:
            try:
                await loop_fn()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not is_full(exc):
                    log.exception("%s crashed; restarting it", loop_fn.__name__)
                    await asyncio.sleep(0.5)
                else:  # the writer has said so already; try again when there may be space
                    await asyncio.sleep(self.settings.storage_retry_interval)

    # ---- waking runs ---------------------------------------------------------------------

    def wake(self, run_id: str) -> None:
        if self.cluster is not None and run_id not in self.live:
            if not (self._stopping or self.draining):
                self.cluster.wake(run_id)  # executed by whichever node claims it
            return
        self.wake_here(run_id)

    def wake_here(self, run_id: str) -> None:
        if self._stopping or self.draining:
            return
        if run_id in self.live:
            self._rewake.add(run_id)
            self.runners[run_id].poke()  # a live Runner looks again without exiting
        elif run_id not in self._queued:
            if len(self.live) < self.settings.max_concurrent_steps:
                self._spawn(run_id)
            else:
                self._queued.add(run_id)
                self._queue.append(run_id)

    def cancel(self, run_id: str) -> None:
        self.cancel_here(run_id)
        if self.cluster is not None:  # the node executing its steps may be another
            self.cluster.cancel(run_id)

    def cancel_here(self, run_id: str) -> None:
        # A buffered schedule fire, or a run waiting for the slot the run held, may go now.
        self.timer_poke()
        runner = self.runners.get(run_id)
        if runner is not None:
            runner.kill()
        self.cancel_children(run_id)

    def cancel_children(self, run_id: str) -> None:
        """The run ended, and its child runs with it (in the same transaction): stop the
        steps their live Runners execute."""
        if not self.live:
            return
        for child_id in self.store.read(ops_children.ended_descendants, run_id):
            runner = self.runners.get(child_id)
            if runner is not None:
                runner.kill()

    def _spawn(self, run_id: str) -> None:
        runner = Runner(self, run_id)
        self.runners[run_id] = runner
        task = asyncio.create_task(self._drive(runner), name=f"runner-{run_id}")
        self.live[run_id] = task

    async def _drive(self, runner: Runner) -> None:
        run_id = runner.run_id
        try:
            await runner.run()
        except asyncio.CancelledError:
            raise
        except Fenced as exc:  # another node has the run: nothing more is written here
            log.warning("fenced: %s; its Runner here stopped", exc)
        except Exception:
            log.exception("runner of %s crashed; trying the run again shortly", run_id)
            self._crash_tasks.add(asyncio.create_task(self._after_crash(run_id)))
        finally:
            del self.live[run_id]
            del self.runners[run_id]
            if self._sched_buffered or _holds_slot(runner):
                self.timer_poke()  # its end may have admitted waiting runs (wake_at now)
            if not (self._stopping or self.draining):
                self._after_exit(run_id)

    async def _after_crash(self, run_id: str) -> None:
        """Record the crash so the timer tries the run again; until that record is
        written (a full disk), keep trying: a run left `running` with no Runner is wedged."""
        try:
            while True:
                try:
                    await self.store.write(ops_recovery.interrupt_run, run_id,
                                           RUNNER_CRASH_BACKOFF, self.settings.max_recoveries)
                    break
                except Exception as exc:
                    if not is_full(exc):
                        log.exception("could not record the crash of %s's Runner", run_id)
                    await asyncio.sleep(max(RUNNER_CRASH_BACKOFF,
                                            self.settings.storage_retry_interval))
        finally:
            self._crash_tasks.discard(asyncio.current_task())
        self.timer_poke()

    def _after_exit(self, run_id: str) -> None:
        if run_id in self._rewake:
            self._rewake.discard(run_id)
            self._spawn(run_id)
            return
        while self._queue and len(self.live) < self.settings.max_concurrent_steps:
            nxt = self._queue.popleft()
            self._queued.discard(nxt)
            self._spawn(nxt)

    def write_for(self, run_id: str, op, *args):
        """A Runner's write: on a shared database, only while this node holds the lease."""
        if self.cluster is not None:
            return self.cluster.write(run_id, op, *args)
        return self.store.write(op, *args)

    def template_spec(self, template_id: str, spec_json: str) -> TemplateSpec:
        """Published templates never change, so each is parsed once per daemon."""
        spec = self._specs.get(template_id)
        if spec is None:
            import json

            spec = self._specs[template_id] = TemplateSpec.model_validate(json.loads(spec_json))
        return spec

    def callback_url(self, run_id: str, step: str) -> str:
        token = ops_callbacks.make_token(self.callback_key, run_id, step)
        return f"{self.base_url}/api/v1/callbacks/{token}"

    def log_dir(self, run_id: str) -> Path:
        path = self.logs_dir / run_id
        if not path.is_dir():
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
        return path

    # ---- background loops ----------------------------------------------------------------

    def timer_poke(self, when: float | None = None) -> None:
        self._poke.set()

    async def _timer_loop(self) -> None:
        """Wake every run whose time has come; sleep until the next one (or a poke)."""
        while True:
            self._poke.clear()
            now = time.time()
            if self.cluster is None:
                for run_id in self.store.read(timer_queries.due_runs, now):
                    self.wake(run_id)
            elif not (self._stopping or self.draining):
                room = self.settings.max_concurrent_steps - len(self.live)
                for run_id in await self.cluster.claim_due(now, room):
                    self.wake_here(run_id)
            await self._expire_runs(now)
            sched_due = await self._fire_schedules(now)
            nxt = self.store.read(timer_queries.next_wake, now)
            delay = self.settings.timer_max_sleep
            if sched_due is not None:
                nxt = sched_due if nxt is None else min(nxt, sched_due)
            if nxt is not None:
                delay = max(0.0, min(delay, nxt - time.time()))
            try:
                async with asyncio.timeout(delay):  # not wait_for: see Writer.wait_commit
                    await self._poke.wait()
            except TimeoutError:
                pass

    def schedule_context(self) -> ops_schedules.FireContext:
        return ops_schedules.FireContext(self.sealer, self.callback_key,
                                         self.settings.schedule_grace,
                                         self.settings.max_catchup_runs, self.template_spec)

    async def _fire_schedules(self, now: float) -> float | None:
        """Fire the schedules due (one transaction); returns when the next one is due."""
        due, self._sched_buffered = self.store.read(ops_schedules.next_due)
        if self.draining or not ((due is not None and due <= now) or self._sched_buffered):
            return due
        fired = await self.store.write(ops_schedules.fire_due, now, self.schedule_context())
        fault("schedule_fired")  # committed; the runs are not woken yet
        self._sched_buffered = fired.buffered
        for run_id in fired.cancelled:
            self.cancel(run_id)
        for run_id in fired.started:
            self.wake(run_id)
        return self.store.read(ops_schedules.next_due)[0]

    async def _expire_runs(self, now: float) -> None:
        """Fail runs whose template timeout passed, and stop the step they are executing."""
        for run_id in self.store.read(timer_queries.expired_runs, now):
            if await self.store.write(ops_steps.expire_run, run_id):
                self.cancel(run_id)

    async def _heartbeat_loop(self) -> None:
        """Also the housekeeping of idempotency keys: a pass every tenth of their window
        (between one heartbeat and ten minutes apart), not a task per key."""
        window, next_prune = self.settings.idempotency_window, 0.0
        while True:
            await asyncio.sleep(self.settings.heartbeat_interval)
            if self.cluster is not None:  # first: the leases must not wait for the writer
                await self.cluster.renew(self.base_url)
            if self.live:
                await self.store.write(ops_steps.heartbeat, list(self.live))
            if time.monotonic() >= next_prune:
                if n := await ops_idempotency.prune(self.store, window):
                    log.info("pruned %d expired idempotency keys", n)
                next_prune = time.monotonic() + min(600.0, window / 10)

    async def _procs_loop(self) -> None:
        """Follow running steps' process trees, and record what each started, so that
        recovery after a crash finds even a process that left the step's session."""
        while True:
            await asyncio.sleep(self.settings.proc_scan_interval)
            if not (self.reaper.trees or self.reaper.kept):
                continue
            await self.reaper.refresh()
            for tree in list(self.reaper.trees.values()):
                if tree.changed:
                    tree.changed = False
                    procs = tree.members | {(tree.leader, tree.started)}
                    await self.store.write(ops_steps.set_procs, *tree.key, sorted(procs))

    async def _retention_loop(self) -> None:
        await retention.loop(self.store, self.settings, self.logs_dir)

    async def _log_cap_loop(self) -> None:
        await logcap.watch(min(1.0, self.settings.heartbeat_interval))

    def stats(self) -> dict:
        return {"live_runners": len(self.live), "queued_runs": len(self._queue),
                "pid": os.getpid(), "epoch": self.epoch, "stopping": self.draining}
