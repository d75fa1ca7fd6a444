"""The `run` step: a shell string or an argv list, in its own process group.

The process writes straight into its log file (no pipe through the daemon). Its output is
what it writes to the file named by ``$WFE_OUTPUT``: ``key=value`` lines or one JSON object.
Cancel and timeout kill the whole group: TERM, then KILL after a grace period.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess

from wfe.daemon.faults import disk_full
from wfe.daemon.steps import StepContext, logcap, result
from wfe.daemon.storage import is_full
from wfe.engine import jsontext
from wfe.engine.expressions import render, render_shell
from wfe.errors import StorageFull, WfeError

MAX_OUTPUT_BYTES = 1024 * 1024
# All a step gets of the daemon's environment, plus the names the daemon's operator passes
# (step_env_passthrough). Never the rest: WFE_HOME would lead a step to the admin's token
# and the database, WFE_TOKEN is a credential, and a person's shell holds more of them.
BASE_ENV = ("PATH", "HOME", "LANG", "TZ", "USER", "SHELL", "TMPDIR")
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"  # os.defpath would put the cwd first


def build_argv(ctx: StepContext) -> list[str]:
    spec = ctx.step.run
    if isinstance(spec, str):
        # The shell is argv[0] (sh or bash, by name or path, checked with the template),
        # never text of the command; values are single-quoted, which both shells read alike.
        # A name is looked up in the daemon's PATH, whatever PATH the step is given.
        shell = ctx.step.interpreter
        return [shutil.which(shell) or shell, "-c", render_shell(spec, ctx.expr, ctx.expr_limit)]
    return [_as_arg(render(arg, ctx.expr, ctx.expr_limit)) for arg in spec]


def _as_arg(value) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return "" if value is None else str(value)


def base_env(passthrough: tuple[str, ...] = ()) -> dict[str, str]:
    env = {k: os.environ[k] for k in (*BASE_ENV, *passthrough) if k in os.environ}
    env.setdefault("PATH", DEFAULT_PATH)
    return env


def build_env(ctx: StepContext, output_file: str) -> dict[str, str]:
    env = base_env(ctx.env_passthrough)
    for name, value in ctx.inputs.items():
        env[f"WFE_INPUT_{name.upper()}"] = _as_arg(value)
    for name, value in (ctx.step.env or {}).items():
        env[name] = _as_arg(render(value, ctx.expr, ctx.expr_limit))
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
    fd = open_log(log_path)
    if isinstance(fd, dict):
        return fd
    procs = ctx.procs
    if procs is not None:
        procs.spawning += 1  # until its pid is known, its leader is nobody's orphan
    try:
        # $WFE_OUTPUT is created by the step if it writes one (private: the daemon's umask
        # is 077 and the directory 0700); creating a file here costs more than the spawn's
        # share of most steps. Only a leftover from an attempt a crash cut short must go.
        out_path.unlink(missing_ok=True)
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=subprocess.DEVNULL, stdout=fd, stderr=subprocess.STDOUT,
            cwd=ctx.step.cwd or None, env=env, start_new_session=True)
    except Exception as exc:  # nothing started: the attempt fails, the daemon keeps no fd
        return result("failed", error=f"could not start the command: {_why(exc, argv, env)}",
                      log_path=str(log_path))
    else:
        if procs is not None:
            procs.track(proc.pid, (ctx.run_id, ctx.step.name, str(ctx.attempt)),
                        ctx.keep_background)
    finally:
        os.close(fd)
        if procs is not None:
            procs.spawning -= 1
    try:
        with logcap.watched(log_path, ctx.max_log_bytes):
            outcome = await _wait(proc, ctx)
    finally:
        if procs is not None:  # whatever the step left behind goes with it
            await asyncio.shield(procs.end(proc.pid, ctx.cancel_grace))
    await logcap.cap(log_path, ctx.max_log_bytes)
    outcome["log_path"] = str(log_path)
    outcome["log_tail"] = read_tail(log_path, ctx.tail_bytes)
    if outcome["status"] == "succeeded":
        _read_output(out_path, outcome)
    out_path.unlink(missing_ok=True)
    return outcome


def open_log(log_path) -> int | dict:
    """The step's log file descriptor, or the failed result when it cannot be opened.

    A full disk is not the step's fault: StorageFull tells the Runner to try this attempt
    again once there is space (no process has started, so nothing runs twice).
    """
    try:
        disk_full("log")
        return os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    except OSError as exc:
        if is_full(exc):
            raise StorageFull(f"could not create the step's log: {exc}") from exc
        return result("failed", error=f"could not open the step's log: {exc}")


def _why(exc: Exception, argv: list[str], env: dict[str, str]) -> str:
    if isinstance(exc, ValueError) and "null" in str(exc):
        where = next((f"the environment variable {k}" for k, v in env.items()
                      if "\0" in k or "\0" in v), None)
        where = where or next((f"argument {i}" for i, a in enumerate(argv) if "\0" in a),
                              "an argument, an environment value or the cwd")
        return f"{where} contains a NUL byte"
    return str(exc) or type(exc).__name__


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
    except BaseException:  # cancelled, or recording the pgid failed: the group must not outlive us
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
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


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
