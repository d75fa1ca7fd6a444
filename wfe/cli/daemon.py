"""``wfe daemon start|stop|status|run``: the local daemon's life cycle.

The CLI never imports the daemon to talk to it: it launches ``python -m wfe.daemon`` and
then speaks HTTP like any other client. Only ``wfe daemon run`` imports ``wfe.daemon``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import typer

import wfe
from wfe import config, config_net, errors
from wfe.cli import render
from wfe.client import Client, resolve_url

app = typer.Typer(help="Start, stop and inspect the wfe daemon.", no_args_is_help=True)

PORT_HELP = "Port to listen on (0 picks a free one); default WFE_PORT or 7390."
LISTEN_HELP = ("Address to listen on; default WFE_LISTEN or 127.0.0.1. Any other than"
               " loopback needs tls_cert and tls_key (or insecure_http).")
# Detaches the daemon from us: the launcher exits at once, so the daemon is never our child
# (no zombie in a long-lived caller such as a test process, no ResourceWarning) and lives in
# its own session (a Ctrl-C in this terminal does not reach it).
_LAUNCHER = (
    "import subprocess,sys\n"
    "log=open(sys.argv[1],'ab')\n"
    "p=subprocess.Popen(sys.argv[2:],stdin=subprocess.DEVNULL,stdout=log,stderr=log,"
    "start_new_session=True,close_fds=True)\n"
    "print(p.pid)\n"
)


DATABASE_HELP = ("sqlite:///PATH or postgresql://... (default: WFE_DATABASE_URL, the"
                 " database_url setting, or the SQLite file in the data folder).")


@app.command()
def start(
    port: int | None = typer.Option(None, "--port", min=0, max=65535, help=PORT_HELP),
    listen: str | None = typer.Option(None, "--listen", metavar="ADDR", help=LISTEN_HELP),
    database: str | None = typer.Option(None, "--database", metavar="URL", help=DATABASE_HELP),
    timeout: float = typer.Option(20.0, "--timeout", help="Seconds to wait until it answers."),
    as_json: bool = typer.Option(False, "--json", help="Print its status as JSON."),
) -> None:
    """Start the daemon in the background and wait until it answers."""
    info, started = ensure_running(port, timeout, listen, database)
    verb = "started" if started else "already running"
    render.note(f"wfe daemon {verb} at {info['url']} (pid {info.get('pid')})")
    if as_json:
        render.json_out({**info, "started": started})
    else:
        render.out(str(info["url"]))


@app.command()
def stop(
    timeout: float = typer.Option(90.0, "--timeout", help="Seconds to wait for it to exit."),
    now: bool = typer.Option(False, "--now", help="Interrupt running steps at once (SIGINT);"
                             " they run again at the next start."),
    as_json: bool = typer.Option(False, "--json", help='Print {"stopped": bool, "pid": N}.'),
):
    """Stop the daemon and wait until it has exited.

    It starts no new step and gives running ones up to `stop_grace` (30 s) to finish
    (SIGTERM); `--now` (SIGINT) or a second stop interrupts them at once."""
    p = config.paths()
    pid = _local_daemon_pid(p)
    if pid is None:
        render.note("wfe daemon is not running")
        if as_json:
            render.json_out({"stopped": False, "pid": None})
        return
    os.kill(pid, signal.SIGINT if now else signal.SIGTERM)
    if not _wait(lambda: not _alive(pid), timeout):
        raise errors.WaitTimeout(f"the daemon (pid {pid}) did not exit within {timeout:g}s")
    render.note(f"wfe daemon stopped (pid {pid})")
    if as_json:
        render.json_out({"stopped": True, "pid": pid})


@app.command()
def status(as_json: bool = typer.Option(False, "--json", help="Print the status as JSON.")):
    """Whether the daemon runs, where, since when; exit 3 when it does not."""
    info = running_info(resolve_url())
    if info is None:
        payload = {"running": False, "url": resolve_url()}
        render.json_out(payload) if as_json else render.daemon_status(payload)
        raise typer.Exit(errors.EXIT_UNREACHABLE)
    render.json_out(info) if as_json else render.daemon_status(info)


@app.command()
def run(
    port: int | None = typer.Option(None, "--port", min=0, max=65535, help=PORT_HELP),
    listen: str | None = typer.Option(None, "--listen", metavar="ADDR", help=LISTEN_HELP),
    database: str | None = typer.Option(None, "--database", metavar="URL", help=DATABASE_HELP),
):
    """Run the daemon in the foreground (for systemd, containers, debugging)."""
    from wfe.daemon.server import serve  # the one place the CLI imports the daemon

    raise typer.Exit(serve(port, listen, database))


# -- shared with `wfe demo` --------------------------------------------------------------


def running_info(url: str | None) -> dict | None:
    """What the daemon at ``url`` says about itself, or None when none answers."""
    if url is None:
        return None
    try:
        health = Client(url, timeout=3).health()
    except errors.DaemonUnreachable:
        return None
    started = render.parse_time(health.get("started_at"))
    uptime = (datetime.now(UTC) - started).total_seconds() if started else None
    if health.get("api_version") not in (None, wfe.API_VERSION):
        render.warn(
            f"the daemon speaks API v{health.get('api_version')}, this wfe v{wfe.API_VERSION}"
        )
    return {
        "running": True,
        "url": url,
        "pid": health.get("pid"),
        "version": health.get("version"),
        "api_version": health.get("api_version"),
        "started_at": health.get("started_at"),
        "uptime_seconds": round(uptime, 3) if uptime is not None else None,
        "live_runners": health.get("live_runners"),
    }


def ensure_running(port: int | None = None, timeout: float = 20.0,
                   listen: str | None = None, database: str | None = None) -> tuple[dict, bool]:
    """The running daemon's info and whether we had to start it."""
    p = config.paths()
    info = running_info(resolve_url())
    if info is not None:
        return info, False
    # A bad setting, or a certificate the daemon could not load, is said here, not lost in
    # the daemon's log.
    config_net.server_tls(config.Settings.load(p, port=port, listen=listen,
                                               database_url=database))
    pid = _spawn(p, port, listen, database)
    return _wait_ready(p, pid, timeout), True


def _spawn(p: config.Paths, port: int | None, listen: str | None,
           database: str | None = None) -> int:
    for d in (p.state_dir, p.data_dir, p.config_dir):
        config.ensure_private_dir(d)
    # Created here, private: the log may show inputs and step output.
    fd = os.open(p.daemon_log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.fchmod(fd, 0o600)
    os.close(fd)
    cmd = [sys.executable, "-m", "wfe.daemon"] + ([] if port is None else ["--port", str(port)])
    cmd += [] if listen is None else ["--listen", listen]
    out = subprocess.run(
        [sys.executable, "-c", _LAUNCHER, str(p.daemon_log), *cmd],
        stdin=subprocess.DEVNULL,
        # In the environment, not the command line: a URL may hold a password, and every
        # user of the machine can read another's argv.
        env={**os.environ, "WFE_DATABASE_URL": database} if database else None,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0 or not out.stdout.strip().isdigit():
        raise errors.WfeError(f"could not launch the daemon: {out.stderr.strip()[-500:]}")
    return int(out.stdout.strip())


def _wait_ready(p: config.Paths, pid: int, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = config.read_daemon_json(p) or {}
        if info.get("pid") == pid and info.get("url"):
            ready = running_info(info["url"])
            if ready is not None:
                return ready
        if not _alive(pid):
            # Lost a race with another `daemon start`? Then that one is as good.
            other = running_info((config.read_daemon_json(p) or {}).get("url"))
            if other is not None:
                return other
            raise errors.WfeError(f"the daemon exited at start-up: {_last_log_line(p.daemon_log)}")
        time.sleep(0.05)
    raise errors.WaitTimeout(f"the daemon did not answer within {timeout:g}s; see {p.daemon_log}")


def _local_daemon_pid(p: config.Paths) -> int | None:
    """The pid in daemon.json if that process is this home's daemon, else None.

    daemon.json outlives a killed daemon, and its pid may have been reused by now: only
    signal a process that answers as the daemon, or that at least runs wfe.
    """
    info = config.read_daemon_json(p) or {}
    pid = info.get("pid")
    if not isinstance(pid, int) or not _alive(pid):
        return None
    try:
        if Client(str(info.get("url")), timeout=3).health().get("pid") == pid:
            return pid
    except errors.WfeError:
        pass
    cmdline = Path(f"/proc/{pid}/cmdline")
    try:
        return pid if b"wfe" in cmdline.read_bytes() else None
    except OSError:
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie has exited; it merely waits for a parent that may never reap it.
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _wait(pred, timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(interval)
    return pred()


def _last_log_line(log: Path) -> str:
    try:
        lines = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        lines = []
    last = lines[-1].removeprefix("wfe: ") if lines else "no output"
    return f"{last} (log: {log})"
