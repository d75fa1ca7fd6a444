"""The PostgreSQL server the scale-out scenarios run on, and what its processes cost.

The server is ``$WFE_BENCH_POSTGRES``, else ``$WFE_TEST_POSTGRES`` (the suite's), else the
local default. Each measurement gets a database of its own, made here and dropped after,
left at the server's settings (``synchronous_commit`` and ``fsync`` as configured: on by
default), so wfe and DBOS commit under the same rules.

The server's CPU is read from ``/proc`` for the processes ``pg_stat_activity`` lists: the
backends serving the measured databases (each engine keeps its connections open for the
whole window, so none is missed), and apart from them the server's own background
processes (WAL writer, checkpointer, background writer, autovacuum), which serve every
database on the server and so include whatever else the machine runs against it. A server
on another machine has no ``/proc`` here: its CPU is then not measured.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

DEFAULT = "postgresql://postgres@127.0.0.1:5432/postgres"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def _errors() -> tuple[type[BaseException], ...]:
    try:
        import psycopg
    except ImportError:
        return ()
    return (psycopg.Error,)


ERRORS = _errors()  # what a scenario on the server may raise besides the bench's own


def server_url() -> str:
    return (os.environ.get("WFE_BENCH_POSTGRES") or os.environ.get("WFE_TEST_POSTGRES")
            or DEFAULT)


def with_db(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


def db_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def unavailable() -> str | None:
    """Why no PostgreSQL server can be used here, or None when one answers."""
    try:
        import psycopg
    except ImportError:
        return ("psycopg is not importable here: install the `postgres` extra "
                "(pip install -e '.[postgres]')")
    url = server_url()
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:  # any failure means: no server to measure on
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
        return f"no PostgreSQL server answers at {_safe(url)} ({first})"
    return None


def _safe(url: str) -> str:
    """The URL without a password, to print."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    user = f"{parts.username}@" if parts.username else ""
    return urlunsplit(parts._replace(netloc=user + host))


def admin(sql: str, params: tuple = ()) -> list[tuple]:
    import psycopg

    with psycopg.connect(server_url(), autocommit=True) as conn:
        cur = conn.execute(sql, params)  # type: ignore[arg-type]
        return cur.fetchall() if cur.description else []


def version() -> str:
    return admin("SHOW server_version")[0][0]


def settings() -> dict[str, str]:
    names = ("synchronous_commit", "fsync", "shared_buffers", "max_connections", "wal_level")
    rows = admin("SELECT name, current_setting(name) FROM pg_settings"
                 " WHERE name = ANY(%s) ORDER BY name", (list(names),))
    return dict(rows)


LIVE: set[str] = set()  # databases this process made and has not dropped yet


def create(prefix: str) -> str:
    """A new, empty database; its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin(f"CREATE DATABASE {name}")
    LIVE.add(name)
    return with_db(server_url(), name)


def drop(url: str) -> None:
    admin(f"DROP DATABASE IF EXISTS {db_name(url)} WITH (FORCE)")
    LIVE.discard(db_name(url))


# ---- the server's CPU ----------------------------------------------------------------------

def _proc_cpu(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


@dataclass
class CpuSnapshot:
    backends: dict[int, float]  # pid -> CPU seconds so far, of the measured databases
    background: dict[int, float]  # the server's own processes (every database's)


def cpu_snapshot(dbs: list[str]) -> CpuSnapshot:
    rows = admin("SELECT pid, datname, backend_type FROM pg_stat_activity"
                 " WHERE pid <> pg_backend_pid()")
    snap = CpuSnapshot({}, {})
    for pid, datname, backend_type in rows:
        if datname in dbs and backend_type == "client backend":
            into = snap.backends
        elif backend_type != "client backend":
            into = snap.background
        else:
            continue
        cpu = _proc_cpu(pid)
        if cpu is not None:
            into[pid] = cpu
    return snap


def cpu_between(a: CpuSnapshot, b: CpuSnapshot) -> dict[str, float | None]:
    """CPU seconds the server's processes used between two snapshots. A backend that began
    after ``a`` counts whole (it began in the window); one gone by ``b`` is not seen."""
    if not b.backends and not b.background:
        return {"pg_backends_cpu_s": None, "pg_background_cpu_s": None}

    def delta(x: dict[int, float], y: dict[int, float]) -> float:
        return sum(v - x.get(pid, 0.0) for pid, v in y.items())

    return {"pg_backends_cpu_s": delta(a.backends, b.backends),
            "pg_background_cpu_s": delta(a.background, b.background)}


def machine_busy_s() -> float:
    """CPU seconds the whole machine has been busy (all cores, every process)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / CLK_TCK
