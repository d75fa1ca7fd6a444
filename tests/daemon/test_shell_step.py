"""The shell step on its own: a real process, cancelled at the worst moment."""

from __future__ import annotations

import asyncio
import os

import pytest

from tests.conftest import async_wait_until
from wfe.daemon.steps import StepContext, shell
from wfe.engine.spec import parse_template


def _gone(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return True
    return False


async def test_a_cancel_while_the_pgid_is_recorded_still_kills_the_group(tmp_path):
    spec = parse_template({"name": "t", "steps": [{"name": "s", "run": "sleep 30 & sleep 30"}]})
    spawned: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def on_spawn(pid: int) -> None:
        spawned.set_result(pid)
        await asyncio.Event().wait()  # as if the pgid's commit were slow: the cancel lands here

    ctx = StepContext(run_id="r", index=0, step=spec.steps[0], attempt=1, expr={}, inputs={},
                      log_dir=tmp_path, timeout=None, cancel_grace=0.5, tail_bytes=100,
                      on_spawn=on_spawn)
    task = asyncio.create_task(shell.execute(ctx))
    pid = await spawned
    task.cancel()
    with pytest.raises(asyncio.CancelledError):  # the step ends cancelled
        await task
    # The group is reaped by the time the step returns: leader and background child alike.
    await async_wait_until(lambda: asyncio.sleep(0, _gone(pid)), timeout=5,
                           message="the process group to be gone")


def _ctx(tmp_path, run: str) -> StepContext:
    spec = parse_template({"name": "t", "steps": [{"name": "s", "run": run}]})
    return StepContext(run_id="r", index=0, step=spec.steps[0], attempt=1, expr={}, inputs={},
                       log_dir=tmp_path, timeout=None, cancel_grace=0.5, tail_bytes=100)


async def test_output_is_what_this_attempt_wrote_and_nothing_is_left_behind(tmp_path):
    ctx = _ctx(tmp_path, "true")
    stale = ctx.log_path().with_suffix(".out")
    stale.write_text("from=a crashed attempt\n")  # same attempt number, e.g. after a crash
    quiet = await shell.execute(ctx)
    assert quiet["status"] == "succeeded" and quiet["output"] == {}
    loud = await shell.execute(_ctx(tmp_path, 'echo "n=1" >> "$WFE_OUTPUT"'))
    assert loud["status"] == "succeeded" and loud["output"] == {"n": "1"}
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".log"]  # one log, no .out
