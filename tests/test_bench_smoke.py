"""The benchmark suite at tiny sizes: every scenario runs against real daemons and reports.

Nothing here is timed: the figures of a smoke run mean nothing. It only keeps
``python -m bench`` working as the daemon changes.
"""

from __future__ import annotations

import json

import pytest

from bench import pgserver
from bench.__main__ import NEED_POSTGRES, SCENARIOS, main
from bench.report import BEGIN, END, targets

pytestmark = pytest.mark.slow


def test_every_scenario_runs_and_reports(tmp_path):
    """Every scenario of one daemon (those of several, on PostgreSQL, are the next test's)."""
    md = tmp_path / "BENCHMARKS.md"
    md.write_text(f"# Benchmarks\n\nbefore\n\n{BEGIN}\nold\n{END}\n\nanalysis kept\n")
    out = tmp_path / "results.json"
    only = ",".join(s for s in SCENARIOS if s not in NEED_POSTGRES)
    code = main(["--smoke", "--only", only, "--workdir", str(tmp_path / "work"),
                 "--json", str(out), "--md", str(md)])
    results = json.loads(out.read_text())
    errors = {k: v["error"] for k, v in results.items() if isinstance(v, dict) and "error" in v}
    assert code == 0 and not errors, errors
    measured = {(scen, what) for scen, what, value, _, _ in targets(results) if value is not None}
    for scenario in ("latency", "shell", "api", "parked", "recovery", "cli", "parallel",
                     "foreach", "schedules", "churn"):
        assert any(s == scenario for s, _ in measured), scenario
    assert results["throughput"]["median"]["steps_per_s"] > 0
    assert results["parked"]["median"]["live_runners"] == 0
    assert results["recovery"]["median"]["in_flight"] >= 0
    assert results["parallel"]["branches"] == 3 and results["parallel"]["median"]["total_s"] > 0
    fe = results["foreach"]
    assert (fe["burst"], fe["items"], fe["chain"]) == (3, 4, 3)
    assert fe["median"]["items_per_s"] > 0 and fe["median"]["chain_steps_per_s"] > 0
    sched = results["schedules"]
    assert sched["idle"] == 5 and sched["median"]["live_runners"] == 0
    # every due schedule fired once (the scenario checks that), and none before its time
    assert sched["rounds"][0]["early"] == 0 and sched["median"]["late_ms_p99"] >= 0
    churn = results["churn"]["median"]
    assert churn["runs_churned"] == 300 and churn["runs_kept"] == 20 and churn["ratio"] > 0
    # DBOS is optional: measured when importable, else skipped with a line that says why.
    assert "median" in results["dbos"] or "bench" in results["dbos"]["skipped"]
    text = md.read_text()
    assert "before" in text and "analysis kept" in text and "old" not in text
    assert "| throughput | durable steps/s |" in text


def test_dbos_missing_is_a_clear_skip(tmp_path, monkeypatch):
    from bench import dbos_side

    monkeypatch.setattr(dbos_side, "available", lambda: None)
    out = tmp_path / "results.json"
    main(["--smoke", "--only", "latency", "--workdir", str(tmp_path / "work"),
          "--json", str(out), "--md", "-"])
    results = json.loads(out.read_text())
    assert "pip install -e '.[bench]'" in results["dbos"]["skipped"]
    assert "dbos_seq" not in results


@pytest.mark.timeout(600)
def test_several_daemons_on_postgres_run_and_report(tmp_path, monkeypatch, pg_server):
    """scaleout and takeover on the suite's PostgreSQL server (skipped without one, unless
    CI is set: see the pg_server fixture); databases of their own, dropped after."""
    monkeypatch.setenv("WFE_BENCH_POSTGRES", pg_server.url)
    made: set[str] = set()
    create = pgserver.create
    monkeypatch.setattr(pgserver, "create", lambda prefix: _noted(create(prefix), made))
    md = tmp_path / "BENCHMARKS.md"
    out = tmp_path / "results.json"
    code = main(["--smoke", "--only", ",".join(NEED_POSTGRES), "--workdir",
                 str(tmp_path / "work"), "--json", str(out), "--md", str(md)])
    results = json.loads(out.read_text())
    errors = {k: v["error"] for k, v in results.items() if isinstance(v, dict) and "error" in v}
    assert code == 0 and not errors, errors
    so = results["scaleout"]
    assert set(so["configs"]) >= {"sqlite-1", "pg-1", "pg-2", "pg-3"}
    for name, conf in so["configs"].items():
        assert conf["median"]["steps_per_s"] > 0, name
        assert conf["median"]["machine_busy_s"] >= 0, name
    for n in (1, 2, 3):  # every step of every run was executed, whichever node ran it
        assert so["configs"][f"pg-{n}"]["median"]["daemons_cpu_s"] > 0
    if "dbos" not in results:  # DBOS is importable: it ran on the same server
        dbos = so["configs"]["dbos-pg"]["median"]
        assert dbos["steps_recorded"] >= so["runs"] * so["steps"]
        assert so["median"]["pg-3_x_dbos_pg"] > 0
    to = results["takeover"]
    (trial,) = to["trials"]
    assert trial["held"] >= 1 and trial["resumed_s"] > 0 and trial["leases_cleared_s"] > 0
    text = md.read_text()
    assert "| wfe, 3 daemons, PostgreSQL |" in text and "Takeover (3 nodes" in text
    # every database the bench made is dropped, and gone from the server
    assert not pgserver.LIVE
    import psycopg

    with psycopg.connect(pg_server.url, autocommit=True) as conn:
        names = {r[0] for r in conn.execute("SELECT datname FROM pg_database").fetchall()}
    assert not names & made


def _noted(url: str, made: set[str]) -> str:
    made.add(pgserver.db_name(url))
    return url
