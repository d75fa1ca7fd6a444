"""A step that cannot start fails cleanly: no file descriptor, process or task is left."""

from __future__ import annotations

import asyncio
import os

from tests.conftest import async_wait_until
from tests.support import api_client
from wfe.daemon import keys

SPAWNS = 300


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def test_nul_bytes_in_a_steps_environment_leak_no_fd(settings):
    # Inputs with a NUL are refused at start; a template's own `env:` is not an input.
    spec = {"name": "nul", "steps": [{"name": "bad", "run": "true", "env": {"BAD": "a\0b"}}]}
    ok = {"name": "ok", "steps": [{"name": "fine", "run": "echo fine"}]}
    async with api_client(settings) as api:
        await api.template(spec)
        await api.template(ok)
        first = await api.start("nul")  # warm up: the keep-alive connection, the log dir
        await api.wait_status(first["id"], "failed")
        before = open_fds()
        ids = [(await api.start("nul"))["id"] for _ in range(SPAWNS)]
        for run_id in ids:
            done = await api.wait_status(run_id, "failed", timeout=60)
            step = done["steps"][0]
            assert step["status"] == "failed", done
        assert open_fds() - before < 20, "failed spawns left file descriptors open"
        assert step["error"] == ("could not start the command: the environment variable BAD"
                                 " contains a NUL byte")
        after = await api.start("ok")
        done = await api.wait_status(after["id"], "completed", "failed")
        assert done["status"] == "completed", done

        async def no_runner() -> bool:  # no Runner task lingers once its run has ended
            return not api.app[keys.SUPERVISOR].live

        await async_wait_until(no_runner, message="every Runner to exit")
        assert len(asyncio.all_tasks()) < 20


async def test_a_nul_byte_in_a_string_input_is_refused_at_start(settings):
    spec = {"name": "s", "variables": {"who": {"type": "string"}},
            "steps": [{"name": "greet", "run": "echo ${{ input.who }}"}]}
    async with api_client(settings) as api:
        await api.template(spec)
        status, body = await api.post("/api/v1/workflows",
                                      json={"template": "s", "input": {"who": "a\0b"}})
        assert status == 422, body
        assert body["error"]["code"] == "validation_failed"
        assert body["error"]["details"] == [
            {"path": "input.who", "message": "must not contain a NUL byte"}]
