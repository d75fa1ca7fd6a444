"""Shared fixtures: the app in-process, the daemon as a real process, and polling helpers.

Async tests run without a plugin: ``pytest_pyfunc_call`` drives each ``async def`` test in
a fresh event loop. Timings are shrunk through settings, never faked; nothing sleeps for a
fixed time where a condition can be polled with a deadline.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests import pg
from wfe.config import Settings, paths

ASYNC_TEST_TIMEOUT = 60


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    if inspect.iscoroutinefunction(pyfuncitem.obj):
        names = pyfuncitem._fixtureinfo.argnames
        kwargs = {name: pyfuncitem.funcargs[name] for name in names}
        # A test marked for longer (pytest.mark.timeout) gets that long here too.
        marker = pyfuncitem.get_closest_marker("timeout")
        limit = marker.args[0] if marker and marker.args else ASYNC_TEST_TIMEOUT
        asyncio.run(asyncio.wait_for(pyfuncitem.obj(**kwargs), limit))
        return True
    return None


def wait_until(predicate: Callable[[], object], timeout: float = 15.0, interval: float = 0.02,
               message: str = "condition") -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


async def async_wait_until(predicate, timeout: float = 15.0, interval: float = 0.01,
                           message: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        await asyncio.sleep(interval)


FAST = {"heartbeat_interval": 0.2, "timer_max_sleep": 0.1, "cancel_grace": 1.0}


# ---- the two backends -----------------------------------------------------------------------

def pytest_configure(config):
    config.addinivalue_line("markers", "sqlite_only(why): a test only the SQLite backend can"
                            " pass (it reads the database file itself, say); says why")
    config.addinivalue_line("markers", "postgres_only(why): a test of the shared server")


def pytest_generate_tests(metafunc):
    """Every test that uses a wfe home runs once per backend, unless marked for one."""
    if "database" not in metafunc.fixturenames:
        return
    backends = ["sqlite", "postgres"]
    if metafunc.definition.get_closest_marker("sqlite_only"):
        backends = ["sqlite"]
    elif metafunc.definition.get_closest_marker("postgres_only"):
        backends = ["postgres"]
    metafunc.parametrize("database", backends, indirect=True)


@pytest.fixture(scope="session")
def pg_server() -> pg.Server:
    server = pg.Server.find()
    if server.error:
        if os.environ.get("CI"):
            pytest.fail(f"CI is set and no PostgreSQL answers: {server.error}", pytrace=False)
        pytest.skip(f"no PostgreSQL server answers ({server.error}); set WFE_TEST_POSTGRES")
    yield server
    server.drop_template()


@pytest.fixture
def database(request) -> str:
    """The value of database_url for this test: "" (the SQLite file) or the session's
    PostgreSQL database, emptied for it."""
    if request.param == "sqlite":
        return ""
    server: pg.Server = request.getfixturevalue("pg_server")
    return server.fresh()


@pytest.fixture
def home(tmp_path: Path, monkeypatch, database: str) -> Path:
    h = tmp_path / "home"
    monkeypatch.setenv("WFE_HOME", str(h))
    for name in ("WFE_URL", "WFE_TOKEN", "WFE_PORT", "WFE_FAULT", "WFE_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    if database:
        monkeypatch.setenv("WFE_DATABASE_URL", database)
    monkeypatch.setenv("WFE_NO_AUTOSTART", "1")
    return h


@pytest.fixture
def settings(home: Path) -> Settings:
    return Settings.load(paths(), port=0, **FAST)


# ---- the daemon as a real process -------------------------------------------------------

@dataclass
class Daemon:
    home: Path
    env: dict[str, str]
    proc: subprocess.Popen | None = None
    info: dict = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.info["url"]

    @property
    def token(self) -> str:
        return (self.home / "token").read_text().strip()

    def start(self, extra_env: dict[str, str] | None = None, wait: bool = True) -> Daemon:
        env = {**self.env, **(extra_env or {})}
        with open(self.home.parent / "daemon.log", "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "wfe.daemon", "--port", "0"],
                                         env=env, stdout=log, stderr=log, start_new_session=True)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 20.0) -> None:
        djson = self.home / "daemon.json"

        def ready():
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited with {self.proc.returncode}:\n{self.log()}")
            try:
                info = json.loads(djson.read_text())
            except (OSError, ValueError):
                return False
            return info if info.get("pid") == self.proc.pid else False

        self.info = wait_until(ready, timeout, message="daemon.json")

    def log(self) -> str:
        try:
            return (self.home.parent / "daemon.log").read_text()[-5000:]
        except OSError:
            return ""

    def kill9(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> int:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode if self.proc else 0

    def client(self):
        from wfe.client import Client

        return Client(self.url, self.token)


def daemon_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("WFE_") and k not in ("COVERAGE_PROCESS_START",)}
    env.update({"WFE_HOME": str(home), "WFE_NO_AUTOSTART": "1", "WFE_HEARTBEAT_INTERVAL": "0.2",
                "WFE_TIMER_MAX_SLEEP": "0.1", "WFE_CANCEL_GRACE": "1", "WFE_STOP_GRACE": "5",
                "WFE_LOG_LEVEL": "WARNING"})
    env.update(extra)
    return env


def _db_env(database: str) -> dict[str, str]:
    return {"WFE_DATABASE_URL": database} if database else {}


@pytest.fixture
def daemon(tmp_path: Path, database: str):
    """A real daemon process with its own WFE_HOME and a free port."""
    home = tmp_path / "home"
    d = Daemon(home, daemon_env(home, **_db_env(database))).start()
    yield d
    d.stop()


@pytest.fixture
def daemon_factory(tmp_path: Path, database: str):
    """For crash tests: a daemon you start, kill and start again on the same home."""
    made: list[Daemon] = []

    def make(**extra: str) -> Daemon:
        home = tmp_path / "home"
        d = Daemon(home, daemon_env(home, **_db_env(database), **extra))
        made.append(d)
        return d

    yield make
    for d in made:
        if d.proc and d.proc.poll() is None:
            d.proc.kill()
            d.proc.wait(5)
