"""The `http` step: one request; a non-2xx answer fails the step; JSON becomes the output."""

from __future__ import annotations

import logging
import os

import aiohttp

from wfe.daemon.faults import disk_full
from wfe.daemon.steps import StepContext, result
from wfe.engine import jsontext
from wfe.engine.expressions import render
from wfe.errors import WfeError

log = logging.getLogger("wfe.steps")
DEFAULT_TIMEOUT = 30.0
MAX_RESPONSE_BYTES = 1024 * 1024


async def execute(ctx: StepContext) -> dict:
    spec = render(ctx.step.http.model_dump(by_alias=True, exclude_none=True), ctx.expr,
                  ctx.expr_limit)
    method = str(spec.get("method") or "GET").upper()
    url = str(spec["url"])
    headers = {str(k): str(v) for k, v in (spec.get("headers") or {}).items()}
    headers.setdefault("Idempotency-Key", ctx.idempotency_key)
    timeout = aiohttp.ClientTimeout(total=ctx.timeout or DEFAULT_TIMEOUT)
    log_path = ctx.log_path()
    lines = [f"{method} {url}"]
    try:
        async with ctx.http.request(method, url, headers=headers, json=spec.get("json"),
                                    timeout=timeout, allow_redirects=False) as resp:
            body = await resp.content.read(MAX_RESPONSE_BYTES + 1)
            status, ctype = resp.status, resp.content_type
    except TimeoutError:
        return _done(log_path, lines, result("timed_out", error=f"{method} {url} timed out"))
    except (aiohttp.ClientError, ValueError, OSError) as exc:
        return _done(log_path, lines, result("failed", error=f"{method} {url} failed: {exc}"))
    text = body[:MAX_RESPONSE_BYTES].decode("utf-8", "replace")
    lines += [f"HTTP {status}", text]
    if not 200 <= status < 300:
        return _done(log_path, lines, result(
            "failed", exit_code=status, error=f"HTTP {status}: {text[:200]}"))
    return _done(log_path, lines, result("succeeded", exit_code=status,
                                         output=_output(status, ctype, text)))


def _output(status: int, ctype: str, text: str) -> dict:
    if ctype == "application/json" or ctype.endswith("+json"):
        try:  # bounded like a request body's: it is stored and handed on the same way
            value = jsontext.loads(text, "the response")
        except WfeError:
            return {"status": status, "body": text}
        return value if isinstance(value, dict) else {"status": status, "json": value}
    return {"status": status, "body": text}


def _done(log_path, lines: list[str], outcome: dict) -> dict:
    outcome["log_tail"] = "\n".join(lines)[-4096:]
    # The request was sent: a log that cannot be written (a full disk) must not lose its
    # outcome, or the request would be sent again. The tail still holds what the log would.
    try:
        disk_full("log")
        with open(log_path, "a", encoding="utf-8", opener=_private) as f:
            f.write("\n".join(lines) + "\n")
    except OSError as exc:
        log.warning("could not write the log of an http step: %s", exc)
        return outcome
    outcome["log_path"] = str(log_path)
    return outcome


def _private(path, flags):
    return os.open(path, flags, 0o600)
