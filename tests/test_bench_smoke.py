"""The benchmark suite at tiny sizes: every scenario runs against real daemons and reports.

Nothing here is timed: the figures of a smoke run mean nothing. It only keeps
``python -m bench`` working as the daemon changes.
"""

from __future__ import annotations

import json

import pytest

from bench.__main__ import main
from bench.report import BEGIN, END, targets

pytestmark = pytest.mark.slow


def test_every_scenario_runs_and_reports(tmp_path):
    md = tmp_path / "BENCHMARKS.md"
    md.write_text(f"# Benchmarks\n\nbefore\n\n{BEGIN}\nold\n{END}\n\nanalysis kept\n")
    out = tmp_path / "results.json"
    code = main(["--smoke", "--workdir", str(tmp_path / "work"), "--json", str(out),
                 "--md", str(md)])
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
