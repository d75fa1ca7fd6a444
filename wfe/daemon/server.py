"""Running the daemon in the foreground: one per home (a file lock), SIGTERM stops it."""

from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import os
import signal
import sys

from aiohttp import web

from wfe import __version__
from wfe.config import Paths, Settings, ensure_private_dir, paths, write_private
from wfe.daemon import keys
from wfe.daemon.app import make_app
from wfe.daemon.hardening import HEADER_LIMITS, InsecureFiles
from wfe.daemon.protocol import JsonErrorsRunner
from wfe.daemon.store.util import now_iso

LOCKED = 17  # exit status when another daemon holds this home's lock
INSECURE = 78  # EX_CONFIG: files others can read; the daemon refuses to start
log = logging.getLogger("wfe.daemon")


def acquire_lock(p: Paths) -> int | None:
    ensure_private_dir(p.state_dir)
    fd = os.open(p.lock_file, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def serve(port: int | None = None) -> int:
    logging.basicConfig(level=os.environ.get("WFE_LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    os.umask(0o077)  # whatever the daemon creates (SQLite's WAL, logs) is private
    p = paths()
    lock = acquire_lock(p)
    if lock is None:
        running = _running(p)
        where = f" at {running['url']} (pid {running['pid']})" if running else ""
        print(f"wfe: a daemon is already running for this home{where}", file=sys.stderr)
        return LOCKED
    settings = Settings.load(p, port=port)
    try:
        asyncio.run(_serve(p, settings))
    except InsecureFiles as exc:
        print(f"wfe: {exc}", file=sys.stderr)
        return INSECURE
    finally:
        p.daemon_json.unlink(missing_ok=True)
        os.close(lock)
    return 0


def _use_pidfd_watcher() -> None:
    """Python 3.11's default child watcher starts a thread per step process; a pidfd
    needs none (3.12+ uses pidfds by itself)."""
    if not hasattr(os, "pidfd_open") or sys.version_info >= (3, 12):
        return
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        watcher = asyncio.PidfdChildWatcher()
        watcher.attach_loop(asyncio.get_running_loop())
        asyncio.set_child_watcher(watcher)


def _running(p: Paths) -> dict | None:
    try:
        return json.loads(p.daemon_json.read_text())
    except (OSError, ValueError):
        return None


async def _serve(p: Paths, settings: Settings) -> None:
    _use_pidfd_watcher()
    app = make_app(p, settings)
    runner = JsonErrorsRunner(app, access_log=None, handle_signals=False, **HEADER_LIMITS)
    await runner.setup()  # opens the store and recovers runs before anything is served
    site = web.TCPSite(runner, settings.host, settings.port)
    await site.start()
    port = runner.addresses[0][1]
    url = f"http://{settings.host}:{port}"
    app[keys.SUPERVISOR].base_url = url
    write_private(p.daemon_json, json.dumps({
        "pid": os.getpid(), "url": url, "port": port, "version": __version__,
        "started_at": now_iso()}))
    log.info("wfe %s listening on %s", __version__, url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        log.info("stopping")
        await runner.cleanup()
