"""The `run` step: a shell string or an argv list, in its own process group.

The process writes straight into its log file (no pipe through the daemon). Its output is
what it writes to the file named by ``$WFE_OUTPUT``: ``key=value`` lines or one JSON object.
Cancel and timeout kill the whole group: TERM, then KILL after a grace period.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess

from wfe.daemon.steps import StepContext, logcap, result
from wfe.engine import jsontext
from wfe.engine.expressions import render, render_shell
from wfe.errors import WfeError

MAX_OUTPUT_BYTES = 1024 * 1024
# Never handed to a step: the daemon's own credentials.
_SCRUB = ("WFE_TOKEN", "WFE_FAULT")


def build_argv(ctx: StepContext) -> list[str]:
    spec = ctx.step.run
    if isinstance(spec, str):
        return ["/bin/sh", "-c", render_shell(spec, ctx.expr)]
    return [_as_arg(render(arg, ctx.expr)) for arg in spec]


def _as_arg(value) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return "" if value is None else str(value)


def build_env(ctx: StepContext, output_file: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SCRUB}
    for name, value in ctx.inputs.items():
        env[f"WFE_INPUT_{name.upper()}"] = _as_arg(value)
    for name, value in (ctx.step.env or {}).items():
        env[name] = _as_arg(render(value, ctx.expr))
    env.update(ctx.extra_env)
    env.update({
        "WFE_RUN_ID": ctx.run_id, "WFE_STEP": ctx.step.name, "WFE_ATTEMPT": str(ctx.attempt),
        "WFE_IDEMPOTENCY_KEY": ctx.idempotency_key, "WFE_OUTPUT": output_file,
    })
    return env


async def execute(ctx: StepContext) -> dict:
    log_path = ctx.log_path()
    out_path = log_path.with_suffix(".out")
    argv = build_argv(ctx)
    env = build_env(ctx, str(out_path))
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    # $WFE_OUTPUT is created by the step if it writes one (private: the daemon's umask is
    # 077 and the directory 0700); creating a file here costs more than the spawn's share
    # of most steps. Only a leftover from an attempt a crash cut short must go.
    out_path.unlink(missing_ok=True)
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=subprocess.DEVNULL, stdout=fd, stderr=subprocess.STDOUT,
            cwd=ctx.step.cwd or None, env=env, start_new_session=True)
    except OSError as exc:
        os.close(fd)
        return result("failed", error=f"could not start the command: {exc}",
                      log_path=str(log_path))
    os.close(fd)
    with logcap.watched(log_path, ctx.max_log_bytes):
        outcome = await _wait(proc, ctx)
    await logcap.cap(log_path, ctx.max_log_bytes)
    outcome["log_path"] = str(log_path)
    outcome["log_tail"] = read_tail(log_path, ctx.tail_bytes)
    if outcome["status"] == "succeeded":
        _read_output(out_path, outcome)
    out_path.unlink(missing_ok=True)
    return outcome


async def _wait(proc: asyncio.subprocess.Process, ctx: StepContext) -> dict:
    try:
        # Inside the try: a cancel that lands while the pgid is being recorded must still
        # kill the group, or the process would run on with nobody waiting for it.
        if ctx.on_spawn is not None:
            await ctx.on_spawn(proc.pid)
        async with asyncio.timeout(ctx.timeout):  # a cancel is never lost, unlike wait_for
            code = await proc.wait()
    except TimeoutError:
        await kill_group(proc, ctx.cancel_grace)
        return result("timed_out", error=f"timed out after {ctx.timeout:g}s",
                      exit_code=proc.returncode)
    except asyncio.CancelledError:
        await asyncio.shield(kill_group(proc, ctx.cancel_grace))
        raise
    if code == 0:
        return result("succeeded", exit_code=0)
    if code < 0:
        return result("failed", exit_code=code, error=f"killed by {signal.Signals(-code).name}")
    return result("failed", exit_code=code, error=f"exited with {code}")


async def kill_group(proc: asyncio.subprocess.Process, grace: float) -> None:
    """TERM the whole group, then KILL what is left after the grace period."""
    pgid = proc.pid
    _signal_group(pgid, signal.SIGTERM)
    try:
        async with asyncio.timeout(grace):
            await proc.wait()
    except TimeoutError:
        pass
    # Grandchildren may outlive the leader: the group is killed either way.
    _signal_group(pgid, signal.SIGKILL)
    await proc.wait()


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def read_tail(path, limit: int) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - limit))
            data = f.read()
    except OSError:
        return ""
    return data.decode("utf-8", "replace")


def _read_output(path, outcome: dict) -> None:
    try:
        try:
            size = path.stat().st_size
        except FileNotFoundError:  # the step wrote no output
            outcome["output"] = {}
            return
        if size > MAX_OUTPUT_BYTES:
            raise ValueError(f"$WFE_OUTPUT is {size} bytes; the limit is {MAX_OUTPUT_BYTES}")
        outcome["output"] = parse_output(path.read_text("utf-8", "replace"))
    except (OSError, ValueError) as exc:
        outcome.update(status="failed", error=f"could not read the step's output: {exc}")


def parse_output(text: str) -> dict:
    stripped = text.strip()
    if not stripped:
        return {}
    if stripped.startswith("{"):
        value = _bounded_json(stripped)
        if not isinstance(value, dict):
            raise ValueError("the JSON output must be an object")
        return value
    out = {}
    for number, line in enumerate(stripped.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"line {number} is not key=value: {line[:80]!r}")
        out[key.strip()] = value
    return out


def _bounded_json(text: str):
    """The output's JSON, refused like a request body's when too deep or not Unicode: it is
    stored and handed to later steps just the same."""
    try:
        return jsontext.loads(text, "the output")
    except WfeError as exc:
        raise ValueError(_explained(exc)) from None


def _explained(exc: WfeError) -> str:
    where = [d["path"] for d in exc.details if "path" in d] if isinstance(exc.details, list) else []
    return exc.message + (f" ({', '.join(where)})" if where else "")
