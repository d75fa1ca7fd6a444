"""The ``wfe`` command line: one module per noun, one package (render) that prints.

Helpers shared by the command modules live here; they must stay cheap to import, because
every invocation of ``wfe`` pays for them.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

import wfe
from wfe import config, errors
from wfe.client import Client, is_uuid

MIN_PREFIX = 4
LAST = "@last"


def client(timeout: float = 30) -> Client:
    """The API client for this invocation (WFE_URL / daemon.json, WFE_TOKEN / token file).

    Without WFE_URL the local daemon is meant: it is started when it is not running
    (unless WFE_NO_AUTOSTART=1), and a version that differs from ours is pointed out once.
    """
    if not os.environ.get("WFE_URL"):
        info = _local_daemon()
        if info is None and os.environ.get("WFE_NO_AUTOSTART", "") in ("", "0"):
            _autostart()
        elif info is not None:
            _warn_version_once(info)
    return Client.from_env(timeout=timeout)


def _local_daemon() -> dict | None:
    """daemon.json, when the process it names is alive (a killed daemon leaves it behind)."""
    info = config.read_daemon_json(config.paths())
    if not isinstance(info, dict) or not isinstance(info.get("pid"), int):
        return None
    try:
        os.kill(info["pid"], 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return info


def _autostart() -> None:
    from wfe.cli import daemon, render  # only paid for when the daemon must be started

    info, started = daemon.ensure_running()
    if started:
        render.note(f"started the wfe daemon at {info['url']} (pid {info.get('pid')})")


def _warn_version_once(info: dict) -> None:
    """Once per daemon start: a marker in the state dir remembers that we said it."""
    theirs = info.get("version")
    if not theirs or theirs == wfe.__version__:
        return
    marker = config.paths().state_dir / "version-warned"
    stamp = f"{info.get('pid')} {info.get('started_at')} {wfe.__version__}"
    try:
        if marker.read_text() == stamp:
            return
    except OSError:
        pass
    from wfe.cli import render

    render.warn(f"the daemon runs wfe {theirs}, this CLI is wfe {wfe.__version__}; "
                "restart it to match: wfe daemon stop && wfe daemon start")
    with contextlib.suppress(OSError):  # warning again next time beats failing the command
        config.write_private(marker, stamp)


def resolve_run(c: Client, ref: str) -> str:
    """A run id from what the user typed: a full id, a unique prefix of 4+ characters, or
    ``@last`` (the caller's newest run)."""
    ref = ref.strip()
    if is_uuid(ref):
        return ref
    if ref == LAST:
        items = c.list_runs(limit=1)["items"]
        if not items:
            raise errors.NotFound("you have no runs yet")
        return items[0]["id"]
    if len(ref) < MIN_PREFIX:
        raise errors.UsageError(f"a run id prefix needs at least {MIN_PREFIX} characters: {ref!r}")
    found = c.find_runs(ref, limit=11)
    if not found:
        raise errors.NotFound(f"no run {ref}")
    if len(found) > 1:
        more = "at least " if len(found) > 10 else ""
        raise errors.UsageError(f"run id prefix {ref!r} is ambiguous: it matches {more}"
                                f"{len(found)} runs", {"candidates": found[:10]})
    return found[0]["id"]


def read_text(file: str) -> str:
    """A file's text, or stdin's for ``-``; a missing file is the user's error, not a bug."""
    if file == "-":
        return sys.stdin.read()
    try:
        return Path(file).read_text()
    except OSError as e:
        raise errors.UsageError(f"cannot read {file}: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise errors.UsageError(f"cannot read {file}: not UTF-8 text") from None


def content_type_of(file: str, text: str) -> str:
    """JSON for .json files (and JSON piped on stdin), YAML otherwise."""
    if file.lower().endswith(".json") or (file == "-" and text.lstrip().startswith("{")):
        return "application/json"
    return "application/yaml"
