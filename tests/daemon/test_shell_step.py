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


def test_step_env_passthrough_comes_from_the_environment_or_a_toml_list(tmp_path):
    from wfe.config import Paths, Settings

    p = Paths(tmp_path, tmp_path, tmp_path)
    assert Settings.load(p, {}).step_env_passthrough == ()
    env = {"WFE_STEP_ENV_PASSTHROUGH": " HTTPS_PROXY, ,LC_ALL"}
    assert Settings.load(p, env).step_env_passthrough == ("HTTPS_PROXY", "LC_ALL")
    p.config_file.write_text('step_env_passthrough = ["GOPATH", "JAVA_HOME"]\n')
    assert Settings.load(p, {}).step_env_passthrough == ("GOPATH", "JAVA_HOME")
    for bad in ('step_env_passthrough = ["A=B"]\n', 'step_env_passthrough = 3\n'):
        p.config_file.write_text(bad)
        with pytest.raises(ValueError, match="step_env_passthrough"):
            Settings.load(p, {})


def test_only_the_base_and_the_passed_names_reach_a_step(tmp_path, monkeypatch):
    monkeypatch.setenv("WFE_HOME", str(tmp_path))
    monkeypatch.setenv("SOME_SECRET", "s3cret")
    monkeypatch.setenv("PASSED", "yes")
    monkeypatch.delenv("PATH")  # a daemon started with none still finds /bin tools
    ctx = _ctx(tmp_path, "true")
    ctx.env_passthrough = ("PASSED",)
    env = shell.build_env(ctx, "out")
    assert "WFE_HOME" not in env and "SOME_SECRET" not in env
    assert env["PASSED"] == "yes" and env["PATH"] == shell.DEFAULT_PATH
    assert set(env) <= {*shell.BASE_ENV, "PASSED", "WFE_RUN_ID", "WFE_STEP", "WFE_ATTEMPT",
                        "WFE_IDEMPOTENCY_KEY", "WFE_OUTPUT"}
