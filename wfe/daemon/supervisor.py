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

from wfe.config import Settings
from wfe.daemon.faults import fault
from wfe.daemon.procs import kill_leftovers
from wfe.daemon.runner import Runner
from wfe.daemon.steps import logcap
from wfe.daemon.store import Store
from wfe.daemon.store import ops_callbacks, ops_recovery, ops_steps
from wfe.engine.spec import TemplateSpec

log = logging.getLogger("wfe.supervisor")
RUNNER_CRASH_BACKOFF = 1.0


class Supervisor:
    def __init__(self, store: Store, settings: Settings, logs_dir: Path) -> None:
        self.store = store
        self.settings = settings
        self.logs_dir = logs_dir
        self.epoch = 0
        self.http = None  # an aiohttp ClientSession, set by the app
        self.sealer = None  # seals secret inputs (wfe.daemon.secrets.Sealer), set by the app
        self.base_url = ""  # where the daemon listens, set once it does (for callback URLs)
        self.callback_key = b""
        self.live: dict[str, asyncio.Task] = {}
        self.runners: dict[str, Runner] = {}
        self._queue: deque[str] = deque()
        self._queued: set[str] = set()
        self._rewake: set[str] = set()
        self._specs: dict[str, TemplateSpec] = {}
        self._poke = asyncio.Event()
        self._loops: list[asyncio.Task] = []
        self._stopping = False
        self._crash_tasks: set[asyncio.Task] = set()

    # ---- start-up and shut-down ----------------------------------------------------------

    async def recover(self) -> list[str]:
        """Before serving: close what a dead daemon left running, kill its step processes."""
        self.epoch = await self.store.write(ops_recovery.next_epoch)
        self.callback_key = await self.store.write(ops_callbacks.callback_key)
        attempts = await self.store.write(ops_recovery.interrupted_attempts)
        await asyncio.to_thread(kill_leftovers, attempts)
        fault("recovery")
        revived = await self.store.write(ops_recovery.recover, self.settings.max_recoveries)
        if revived:
            log.info("recovered %d interrupted runs", len(revived))
        return revived

    def start(self) -> None:
        self._loops = [
            asyncio.create_task(self._watch(self._timer_loop), name="wfe-timer"),
            asyncio.create_task(self._watch(self._heartbeat_loop), name="wfe-heartbeat"),
            # Caps the logs of steps that run long; a short one is capped as it ends.
            asyncio.create_task(self._watch(self._log_cap_loop), name="wfe-log-cap"),
        ]

    async def stop(self) -> None:
        self._stopping = True
        for task in self._loops:
            task.cancel()
        tasks = list(self.live.values())
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
            except Exception:
                log.exception("%s crashed; restarting it", loop_fn.__name__)
                await asyncio.sleep(0.5)

    # ---- waking runs ---------------------------------------------------------------------

    def wake(self, run_id: str) -> None:
        if self._stopping:
            return
        if run_id in self.live:
            self._rewake.add(run_id)
        elif run_id not in self._queued:
            if len(self.live) < self.settings.max_concurrent_steps:
                self._spawn(run_id)
            else:
                self._queued.add(run_id)
                self._queue.append(run_id)

    def cancel(self, run_id: str) -> None:
        runner = self.runners.get(run_id)
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
        except Exception:
            log.exception("runner of %s crashed; trying the run again shortly", run_id)
            self._crash_tasks.add(asyncio.create_task(self._after_crash(run_id)))
        finally:
            del self.live[run_id]
            del self.runners[run_id]
            if not self._stopping:
                self._after_exit(run_id)

    async def _after_crash(self, run_id: str) -> None:
        try:
            await self.store.write(ops_recovery.interrupt_run, run_id, RUNNER_CRASH_BACKOFF,
                                   self.settings.max_recoveries)
        except Exception:  # the store itself is failing: recovery at the next start helps
            log.exception("could not record the crash of %s's Runner", run_id)
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
            due = await self.store.all(
                "SELECT id FROM runs WHERE wake_at <= ? ORDER BY wake_at LIMIT 1000", (now,))
            for row in due:
                self.wake(row["id"])
            await self._expire_runs(now)
            nxt = await self.store.scalar(
                "SELECT MIN(t) FROM (SELECT MIN(wake_at) AS t FROM runs WHERE wake_at > ?"
                " UNION ALL SELECT MIN(deadline) FROM runs WHERE deadline > ?"
                " AND status NOT IN ('completed', 'failed', 'cancelled'))", (now, now))
            delay = self.settings.timer_max_sleep
            if nxt is not None:
                delay = max(0.0, min(delay, nxt - time.time()))
            try:
                async with asyncio.timeout(delay):  # not wait_for: see Writer.wait_commit
                    await self._poke.wait()
            except TimeoutError:
                pass

    async def _expire_runs(self, now: float) -> None:
        """Fail runs whose template timeout passed, and stop the step they are executing."""
        rows = await self.store.all(
            "SELECT id FROM runs WHERE deadline <= ? AND status NOT IN"
            " ('completed', 'failed', 'cancelled') LIMIT 1000", (now,))
        for row in rows:
            if await self.store.write(ops_steps.expire_run, row["id"]):
                self.cancel(row["id"])

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.heartbeat_interval)
            if self.live:
                await self.store.write(ops_steps.heartbeat, list(self.live))

    async def _log_cap_loop(self) -> None:
        await logcap.watch(min(1.0, self.settings.heartbeat_interval))

    def stats(self) -> dict:
        return {"live_runners": len(self.live), "queued_runs": len(self._queue),
                "pid": os.getpid(), "epoch": self.epoch}
