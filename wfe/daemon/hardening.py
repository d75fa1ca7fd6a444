"""Localhost is not a security boundary: the checks the app's middleware and start-up use.

A web page in the user's browser can send requests to 127.0.0.1 (cross-site forms, DNS
rebinding), and every local process can connect. So the daemon checks the Host header
against its own address and port, refuses any non-loopback Origin, takes bodies only in
the media types each endpoint documents, and refuses to start on files others can read.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
from pathlib import Path
from typing import TypedDict
from urllib.parse import urlsplit

from aiohttp import web

from wfe.config import Paths, Settings
from wfe.config_net import host_allowed, named_hosts, split_host
from wfe.daemon import keys
from wfe.daemon.api.common import parse_json
from wfe.daemon.api.openapi import INT64, JSON, MUTATING, op_for
from wfe.daemon.ui import is_ui_path
from wfe.errors import Forbidden, UnsupportedMediaType, ValidationFailed

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
FORMS = ("application/x-www-form-urlencoded",)
UUID_TEXT = re.compile(r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")


def local_port(request: web.Request) -> int | None:
    sock = request.transport.get_extra_info("sockname") if request.transport else None
    return sock[1] if sock else None


def check_host_and_origin(request: web.Request) -> None:
    """403 unless Host names a loopback address with our port (or one of the names the
    settings allow, see wfe.config_net.host_allowed), and any Origin is loopback."""
    name, port = split_host(request.headers.get("Host", ""))
    settings = request.app[keys.SETTINGS]
    if name in LOOPBACK_NAMES:
        ours = local_port(request)
        if ours is not None and port != ours and not (port is None and ours == 80):
            raise Forbidden(f"the Host header must name this daemon's port ({ours})")
    elif not host_allowed(settings, name, port):
        more = " or a name in allowed_hosts" if named_hosts(settings) else ""
        raise Forbidden(f"the Host header must name a loopback address{more}")
    _check_origin(request)


def _check_origin(request: web.Request) -> None:
    origin = request.headers.get("Origin")
    if origin is not None:
        try:
            hostname = urlsplit(origin).hostname or ""
        except ValueError:
            hostname = ""
        if hostname not in LOOPBACK_NAMES:
            raise Forbidden("cross-origin requests are refused")


def check_media_type(request: web.Request) -> None:
    """A mutating request's body must be of a media type its endpoint documents (415)."""
    if request.method not in MUTATING or not request.body_exists:
        return
    op = op_for(request)
    allowed = op.media if op is not None else JSON
    if op is None and is_ui_path(request.path):  # the web UI's own forms (sign in and out)
        allowed = FORMS
    if request.content_type not in allowed:
        raise UnsupportedMediaType(
            f"the body must be {' or '.join(allowed)}, not {request.content_type or 'absent'}")


def check_query(request: web.Request) -> None:
    """Query parameters are checked against the document before any handler runs (422):
    one it does not list (``?stauts=failed`` silently ignored would list every run), one
    given twice, or an integer out of its range (one past SQLite's would otherwise be a
    500)."""
    op = op_for(request)
    if op is None:
        return
    params = {(q["in"], q["name"].lower() if q["in"] == "header" else q["name"]): q
              for q in op.params}
    errors = [{"path": name[:100], "message": "unknown query parameter"}
              for name in sorted(set(request.query)) if ("query", name) not in params]
    for (where, name), q in params.items():
        given = request.query.getall(name, []) if where == "query" else \
            request.headers.getall(name, [])
        if len(given) > 1:  # which one counts would be a guess: every parameter takes one
            errors.append({"path": q["name"], "message": "given more than once; takes one value"})
            continue
        raw = request.query.get(name) if where == "query" else request.headers.get(name)
        problem = None if raw is None else _out_of_range(raw, q["schema"])
        if problem:
            errors.append({"path": q["name"], "message": problem})
    if errors:
        raise ValidationFailed("invalid query parameters", errors)


async def check_no_body(request: web.Request) -> None:
    """A mutating request to an endpoint that documents no body may send none, or ``{}``
    (what some clients send for "nothing"); anything else would be silently ignored, so it
    is refused: 400 when it is not JSON, 422 naming what was sent."""
    op = op_for(request)
    if request.method not in MUTATING or op is None or op.body is not None \
            or not request.body_exists:
        return
    raw = await request.read()  # bounded by client_max_size; kept for the handler
    if not raw.strip():
        return
    data = await parse_json(raw)  # BadRequest (400) when it is not JSON
    if data == {}:
        return
    if isinstance(data, dict):
        raise ValidationFailed("invalid request", [
            {"path": str(k)[:100], "message": "unknown field (this endpoint takes no body)"}
            for k in list(data)[:50]])
    raise ValidationFailed("invalid request",
                           [{"path": "(body)", "message": "this endpoint takes no body"}])


def normalise_path_ids(request: web.Request) -> None:
    """Path ids the document declares as UUIDs match in either case, as RFC 9562 says they
    compare: they are stored in lower case, so an upper-case one is lowered here."""
    op = op_for(request)
    if op is None:
        return
    for name, schema in op.path.items():
        value = request.match_info.get(name)
        if value and schema.get("format") == "uuid" and UUID_TEXT.fullmatch(value):
            request.match_info[name] = value.lower()


def _out_of_range(raw: str, schema: dict) -> str | None:
    if schema.get("type") != "integer" or raw.strip() == "":
        return None  # enums and strings are the handlers' to judge
    low, high = schema.get("minimum", 0), schema.get("maximum", INT64)
    text = raw.strip()
    # ASCII digits only: str.isdigit() is true of "²", which int() refuses.
    if not re.fullmatch(r"[0-9]{1,30}", text) or not low <= int(text) <= high:
        return f"must be an integer {low}..{high}"
    return None


# ---- files ------------------------------------------------------------------------------

class InsecureFiles(RuntimeError):
    """Files holding tokens, secrets or run data are open to other users."""


def secret_key_file(p: Paths, settings: Settings | None = None) -> Path:
    """The key that seals secrets: the config folder's, or the one every node of a shared
    database is given (``secret_key_file``)."""
    if settings is not None and settings.secret_key_file:
        return Path(settings.secret_key_file).expanduser()
    return p.config_dir / "secret.key"


def private_files(p: Paths, settings: Settings | None = None) -> list[Path]:
    """What must be 0600: the database (and its WAL), tokens, keys, state, logs' folders."""
    db = [p.db, p.db.with_name(p.db.name + "-wal"), p.db.with_name(p.db.name + "-shm")]
    files = [*db, p.token_file, secret_key_file(p, settings), p.daemon_json, p.daemon_log]
    # A run's log folder is 0700, which keeps its files private whatever their mode;
    # checking folders, not every file, keeps start-up fast with many runs.
    with contextlib.suppress(OSError):
        files += [Path(e.path) for e in os.scandir(p.logs_dir) if e.is_dir(follow_symlinks=False)]
    return files


def check_private_files(p: Paths, settings: Settings | None = None) -> None:
    """Refuse to start when another user could read or change what the daemon keeps.

    Folders are made 0700 at every start; a file is not fixed silently, because if it was
    readable its contents (a token, a secret) may already be known: the user should rotate.
    """
    loose = []
    for path in private_files(p, settings):
        try:
            mode = path.lstat().st_mode
        except OSError:
            continue
        if stat.S_IMODE(mode) & 0o077:
            loose.append(f"{path} (mode {stat.S_IMODE(mode):04o})")
    if loose:
        raise InsecureFiles(
            "refusing to start: other users can access " + ", ".join(loose)
            + "; make them private (chmod go-rwx) and, if a token or secret may have been"
              " read, revoke it")


# Explicit request limits (aiohttp's defaults, written down): a request line or one header
# of at most 8 KiB, at most 64 headers. Bodies: Settings.max_body_bytes (1 MiB), and 64 KiB
# for callbacks.
class _HeaderLimits(TypedDict):  # typed keyword arguments of web.AppRunner
    max_line_size: int
    max_field_size: int
    max_headers: int


HEADER_LIMITS: _HeaderLimits = {"max_line_size": 8190, "max_field_size": 8190, "max_headers": 64}
