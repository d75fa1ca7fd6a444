"""``Idempotency-Key`` on starting a run (as Stripe has it).

The same key and the same body from the same user within the window answer the run the
first request started (200, ``Idempotent-Replayed: true``) and start nothing; the same key
with another body is 422. Bodies are compared by a keyed fingerprint of the validated
request (so ``{"template": "t"}`` and ``{"template": "t", "input": {}}`` are the same),
keyed with a secret kept outside the database: a copy of the database alone cannot test
guesses of a secret input against it. The callback secret of a ``callback_url`` is shown
in the first answer only, like a webhook's.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from pathlib import Path

from aiohttp import web
from pydantic import BaseModel

from wfe.daemon import keys
from wfe.daemon.api.common import respond, user
from wfe.daemon.store import ops_idempotency, queries
from wfe.errors import IdempotencyKeyReused, NotFound, ValidationFailed
from wfe.models import Run

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
KEY = re.compile(r"[ -~]{1,255}")  # printable ASCII; HTTP strips the ends' spaces anyway
FINGERPRINT_KEY = web.AppKey("idempotency_fingerprint_key", bytes)


def fingerprint_key(secret_file: Path) -> bytes:
    return hmac.digest(secret_file.read_bytes(), b"wfe-idempotency-fingerprint", "sha256")


def header_key(request: web.Request) -> str | None:
    """The request's key; 422 unless 1..255 printable ASCII characters."""
    raw = request.headers.get(HEADER)
    if raw is None:
        return None
    if not KEY.fullmatch(raw):
        raise ValidationFailed("invalid Idempotency-Key", [
            {"path": HEADER, "message": "must be 1 to 255 printable ASCII characters"}])
    return raw


def fingerprint(request: web.Request, body: BaseModel) -> str:
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"),
                           ensure_ascii=False, allow_nan=False)
    return hmac.new(request.app[FINGERPRINT_KEY], canonical.encode(), hashlib.sha256).hexdigest()


async def earlier(request: web.Request, key: str) -> tuple[str, str] | None:
    app = request.app
    return await ops_idempotency.find_key(app[keys.STORE], user(request)["name"], key,
                                          app[keys.SETTINGS].idempotency_window)


async def create_once(request: web.Request, key: str, digest: str, *create_args) -> str:
    """The new run's id; KeyTaken when a request with the same key won the race."""
    app = request.app
    return await app[keys.STORE].write(
        ops_idempotency.create_run_once, user(request)["name"], key, digest,
        app[keys.SETTINGS].idempotency_window, *create_args)


async def replay(request: web.Request, run_id: str, stored: str, digest: str) -> web.Response:
    if not hmac.compare_digest(stored, digest):
        raise IdempotencyKeyReused(
            f"this {HEADER} was used with another request body; use a new key",
            {"run_id": run_id})
    run = await queries.get_run(request.app[keys.STORE], run_id, user(request)["name"],
                                detail=False)
    if run is None:
        raise NotFound(f"run {run_id} not found")
    resp = respond(Run, run, status=200)
    resp.headers[REPLAYED] = "true"
    return resp
