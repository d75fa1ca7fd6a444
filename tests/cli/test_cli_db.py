"""`wfe db status|migrate` and `--database`, on both backends."""

from __future__ import annotations

import json

import psycopg
import pytest

from tests.cli.conftest import wfe_process


def _env(tmp_path) -> dict[str, str]:
    return {"WFE_HOME": str(tmp_path / "home"), "WFE_NO_AUTOSTART": "1"}


def test_status_then_migrate_then_status_on_a_new_sqlite_file(tmp_path):
    env = _env(tmp_path)
    url = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    before = json.loads(wfe_process(env, "db", "status", "--database", url, "--json").stdout)
    assert before["backend"] == "sqlite" and before["version"] == 0 and before["pending"] > 0
    done = json.loads(wfe_process(env, "db", "migrate", "--database", url, "--json").stdout)
    assert done["version"] == done["latest"] and done["pending"] == 0
    assert (tmp_path / "elsewhere.db").stat().st_mode & 0o777 == 0o600
    text = wfe_process(env, "db", "status", "--database", url).stdout
    assert "up to date" in text


def test_a_bad_url_is_one_line(tmp_path):
    out = wfe_process(_env(tmp_path), "db", "status", "--database", "mysql://x/y")
    assert out.returncode != 0 and out.stdout == ""
    assert out.stderr.strip().count("\n") == 0 and "database_url" in out.stderr


@pytest.mark.postgres_only("a PostgreSQL schema and a daemon on it")
def test_migrate_a_server_database_and_run_a_daemon_on_it_by_flag(tmp_path, pg_server,
                                                                  database):
    env = _env(tmp_path)
    url = pg_server.create()
    try:
        done = json.loads(wfe_process(env, "db", "migrate", "--database", url, "--json").stdout)
        assert done["backend"] == "postgres" and done["pending"] == 0
        # A password in the URL is never shown (the server here trusts and ignores it).
        secret = url.replace("postgres@", "postgres:hunter2@", 1)
        shown = wfe_process(env, "db", "status", "--database", secret)
        assert shown.returncode == 0 and "hunter2" not in shown.stdout + shown.stderr
        started = wfe_process(env, "daemon", "start", "--port", "0", "--database", url,
                              "--json")
        assert started.returncode == 0, started.stderr
        try:
            view = json.loads(wfe_process(env, "cluster", "--json").stdout)
            assert view["backend"] == "postgres" and len(view["nodes"]) == 1
        finally:
            wfe_process(env, "daemon", "stop")
    finally:
        pg_server.drop(url)


@pytest.mark.postgres_only("a schema newer than the code, on a shared server")
def test_a_daemon_refuses_a_newer_schema_in_one_line(tmp_path, pg_server, database):
    url = pg_server.create()
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("INSERT INTO wfe_schema (version) VALUES (999)")
        env = _env(tmp_path)
        status = wfe_process(env, "db", "status", "--database", url, "--json")
        assert json.loads(status.stdout)["newer"] is True
        run = wfe_process(env, "daemon", "run", "--port", "0", "--database", url, timeout=60)
        assert run.returncode != 0
        lines = [ln for ln in run.stderr.splitlines() if ln.startswith("wfe:")]
        assert len(lines) == 1 and "newer than this wfe knows" in lines[0], run.stderr[-2000:]
    finally:
        pg_server.drop(url)
