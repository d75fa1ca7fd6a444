"""Running the daemon in the foreground: one per home (a file lock), SIGTERM stops it."""

from __future__ import annotations

import asyncio
import errno
import fcntl
import json
import logging
import os
import signal
import socket
import ssl
import sys

from aiohttp import web

from wfe import __version__
from wfe.config import Paths, Settings, ensure_private_dir, paths, write_private
from wfe.config_net import is_loopback, server_tls, url_host
from wfe.daemon import keys
from wfe.daemon.app import make_app
from wfe.daemon.hardening import HEADER_LIMITS, InsecureFiles
from wfe.daemon.protocol import JsonErrorsRunner
from wfe.daemon.reaper import become_subreaper
from wfe.daemon.store.util import now_iso
from wfe.errors import InvalidSettings, WfeError

LOCKED = 17  # exit status when another daemon holds this home's lock
INSECURE = 78  # EX_CONFIG: files others can read, or a bad setting; the daemon refuses to start
UNAVAILABLE = 69  # EX_UNAVAILABLE: the port is taken (or not ours to listen on)
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


def serve(port: int | None = None, listen_on: str | None = None,
          database: str | None = None) -> int:
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
    try:
        settings = Settings.load(p, port=port, listen=listen_on, database_url=database)
        tls = server_tls(settings)
        # Bound before the store opens or recovery kills anything: a daemon that cannot
        # listen must exit at once, not hang half-started.
        sock = listen(settings.listen, settings.port)
        # Orphans of step processes come back to us, not to init: see wfe.daemon.reaper.
        if not become_subreaper():
            log.warning("not a child subreaper: processes a step detaches may outlive it")
        asyncio.run(_serve(p, settings, sock, tls))
    except InvalidSettings as exc:  # a typo in config.toml stops the daemon, loudly
        print(f"wfe: {exc}", file=sys.stderr)
        return INSECURE
    except CannotListen as exc:
        print(f"wfe: {exc}", file=sys.stderr)
        return UNAVAILABLE
    except InsecureFiles as exc:
        print(f"wfe: {exc}", file=sys.stderr)
        return INSECURE
    except WfeError as exc:  # the database refused: unreachable, a schema, another key
        print(f"wfe: {exc}", file=sys.stderr)
        return UNAVAILABLE
    finally:
        p.daemon_json.unlink(missing_ok=True)
        os.close(lock)
    return 0


class CannotListen(Exception):
    pass


def listen(host: str, port: int) -> socket.socket:
    try:
        return socket.create_server((host, port), backlog=128)
    except OSError as exc:
        why = os.strerror(exc.errno) if exc.errno else str(exc)
        if exc.errno == errno.EADDRINUSE:
            raise CannotListen(f"port {port} is in use (something else listens on {host}:"
                               f"{port}; choose another with --port or WFE_PORT)") from None
        raise CannotListen(f"cannot listen on {host}:{port} ({why})") from None


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


async def _serve(p: Paths, settings: Settings, sock: socket.socket,
                 tls: ssl.SSLContext | None) -> None:
    _use_pidfd_watcher()
    app = make_app(p, settings)
    runner = JsonErrorsRunner(app, access_log=None, handle_signals=False, **HEADER_LIMITS)
    await runner.setup()  # opens the store and recovers runs before anything is served
    site = web.SockSite(runner, sock, ssl_context=tls)
    await site.start()
    port = runner.addresses[0][1]
    url = f"{'https' if tls else 'http'}://{url_host(settings.listen)}:{port}"
    app[keys.SUPERVISOR].base_url = settings.public_url.rstrip("/") or url
    # The certificate is named so that the local CLI can trust it (wfe.client_tls).
    own = {"tls_cert": settings.tls_cert} if tls else {}
    write_private(p.daemon_json, json.dumps({
        "pid": os.getpid(), "url": url, "port": port, "version": __version__,
        "started_at": now_iso(), **own}))
    log.info("wfe %s listening on %s", __version__, url)
    if not tls and not is_loopback(settings.listen):
        log.warning("insecure_http: tokens and run data cross the network in clear text")
    stop, now = asyncio.Event(), asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, _on_term, stop, now)
    loop.add_signal_handler(signal.SIGINT, _on_int, stop, now)
    try:
        await stop.wait()
        log.info("stopping")
        await app[keys.SUPERVISOR].drain(settings.stop_grace, now)
    finally:
        await runner.cleanup()


def _on_term(stop: asyncio.Event, now: asyncio.Event) -> None:
    """The first SIGTERM drains (running steps may finish); a second one hurries."""
    if stop.is_set():
        now.set()
    stop.set()


def _on_int(stop: asyncio.Event, now: asyncio.Event) -> None:
    """SIGINT (`wfe daemon stop --now`, Ctrl-C): interrupt running steps at once."""
    now.set()
    stop.set()
