"""A full disk: writes answer 507 storage_full, reads go on, and every run resumes by
itself once there is space again, with nothing lost and no completed step run twice.

The disk is filled by fault injection (``WFE_FAULT=disk_full:MARKER``): while the marker
file exists, the writer's commits fail as SQLite fails on a full disk and step log files
fail with ENOSPC; removing it frees the disk, all while one daemon keeps running.
"""

from __future__ import annotations

import errno
import http.client
import json
import os
import subprocess
from collections import Counter
from urllib.parse import urlsplit

import pytest

from tests.conftest import Daemon, daemon_env, wait_until
from wfe.errors import StorageFull

pytestmark = pytest.mark.slow


def full_daemon(daemon_factory, tmp_path):
    marker = tmp_path / "disk-is-full"
    d = daemon_factory(WFE_FAULT=f"disk_full:{marker}", WFE_STORAGE_RETRY_INTERVAL="0.1")
    return d.start(), marker


def call(d, method: str, path: str, body: dict | None = None):
    """One raw exchange, so the headers can be looked at too."""
    conn = http.client.HTTPConnection(urlsplit(d.url).netloc, timeout=10)
    headers = {"Authorization": f"Bearer {d.token}"}
    data = None
    if body is not None:
        data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
    try:
        conn.request(method, path, data, headers)
        resp = conn.getresponse()
        return resp.status, resp.headers, json.loads(resp.read() or b"null")
    finally:
        conn.close()


def publish(client, spec: dict) -> None:
    tpl = client.create_template(spec, "application/json")
    client.publish_template(tpl["id"])


def test_while_the_disk_is_full_writes_answer_507_and_reads_work(daemon_factory, tmp_path):
    d, marker = full_daemon(daemon_factory, tmp_path)
    c = d.client()
    publish(c, {"name": "one", "steps": [{"name": "s", "run": "true"}]})
    done = c.start_run("one")["id"]
    wait_until(lambda: c.get_run(done)["status"] == "completed", message="first run")
    marker.touch()
    status, headers, body = call(d, "POST", "/api/v1/workflows", {"template": "one"})
    assert status == 507, body
    assert body["error"]["code"] == "storage_full"
    assert set(body["error"]) == {"code", "message", "details"}
    assert int(headers["Retry-After"]) >= 1
    with pytest.raises(StorageFull):  # the client raises the same class back
        c.start_run("one")
    for path in ("/api/v1/health", "/api/v1/workflows", f"/api/v1/workflows/{done}",
                 "/api/v1/templates"):
        status, _, body = call(d, "GET", path)
        assert status == 200, (path, body)
    assert c.get_run(done)["status"] == "completed"
    marker.unlink()
    again = c.start_run("one")["id"]  # space again: writes work with no restart
    wait_until(lambda: c.get_run(again)["status"] == "completed", message="run after space")


def test_runs_in_flight_resume_once_space_is_back(daemon_factory, tmp_path):
    ledger = tmp_path / "ledger"
    step = f'echo "$WFE_RUN_ID $WFE_STEP $WFE_ATTEMPT" >> {ledger}; sleep 0.02'
    spec = {"name": "many", "steps": [{"name": f"s{i}", "run": step} for i in range(5)]}
    d, marker = full_daemon(daemon_factory, tmp_path)
    c = d.client()
    publish(c, spec)
    ids = [c.start_run("many")["id"] for _ in range(20)]
    wait_until(lambda: ledger.exists() and len(ledger.read_text().splitlines()) >= 20,
               message="steps under way")
    marker.touch()
    # Full for a moment: twenty busy Runners meet failing commits.
    log = d.home.parent / "daemon.log"
    wait_until(lambda: "the disk is full" in log.read_text(), message="a commit failing")
    refused, _, _ = call(d, "POST", "/api/v1/workflows", {"template": "many"})
    assert refused == 507
    marker.unlink()
    wait_until(lambda: all(c.get_run(i)["status"] == "completed" for i in ids), timeout=90,
               interval=0.2, message="every acknowledged run completed")
    assert d.proc.poll() is None, "the daemon kept running"
    ran = Counter(tuple(line.split()[:2]) for line in ledger.read_text().splitlines())
    expected = {(i, f"s{n}") for i in ids for n in range(5)}
    assert set(ran) == expected
    twice = {k: v for k, v in ran.items() if v > 1}
    assert not twice, f"steps ran more than once: {twice}"


@pytest.fixture
def small_disk(tmp_path):
    """A real 16 MiB filesystem for WFE_HOME (the daemon's own log stays outside it). Not
    smaller: once the filler goes, SQLite must have room to copy the WAL back into the
    database file (which grows by as much) before it can reuse the WAL. On a 2 MiB disk the
    WAL alone could take most of it, and no checkpoint could ever finish."""
    home = tmp_path / "home"
    home.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m,mode=0700", "tmpfs", str(home)],
                   check=True, capture_output=True)
    yield home
    subprocess.run(["umount", "-l", str(home)], check=True)


def fill(path) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (65536, 4096, 512):  # big pieces, then the last few blocks too
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
    finally:
        os.close(fd)


def test_a_real_full_filesystem(small_disk, tmp_path):
    ledger = tmp_path / "ledger"  # outside the small disk; steps print nothing to their logs
    step = f'echo "$WFE_RUN_ID $WFE_STEP" >> {ledger}'
    spec = {"name": "real", "steps": [{"name": f"s{i}", "run": step} for i in range(3)]}
    d = Daemon(small_disk, daemon_env(small_disk, WFE_STORAGE_RETRY_INTERVAL="0.1")).start()
    try:
        c = d.client()
        publish(c, spec)
        ids = [c.start_run("real")["id"] for _ in range(5)]
        filler = small_disk / "filler"
        fill(filler)
        refused = None
        for _ in range(500):  # the WAL may still have room for a few
            status, headers, body = call(d, "POST", "/api/v1/workflows", {"template": "real"})
            if status == 507:
                refused = body
                break
            assert status == 201, body
            ids.append(body["id"])
        assert refused is not None and refused["error"]["code"] == "storage_full"
        assert int(headers["Retry-After"]) >= 1
        status, _, listing = call(d, "GET", "/api/v1/workflows?limit=500")
        assert status == 200 and listing["total"] == len(ids)
        filler.unlink()
        wait_until(lambda: all(c.get_run(i)["status"] == "completed" for i in ids), timeout=90,
                   interval=0.2, message="every acknowledged run completed")
        ran = Counter(tuple(line.split()) for line in ledger.read_text().splitlines())
        assert set(ran) == {(i, f"s{n}") for i in ids for n in range(3)}
        assert max(ran.values()) == 1
    finally:
        d.stop()
