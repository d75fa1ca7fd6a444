"""A typed client generated from the served document: without a warning, and reading real
answers into typed values (datetimes, UUIDs, enums, the template's own step models).

openapi-python-client cannot share wfe's environment (every release pins typer below the
0.29 that wfe needs), so it gets a venv of its own, built once and kept in the user's cache
(WFE_CODEGEN_CACHE overrides where) for the next runs; a lock serialises test runs that
build it at the same time.
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import platformdirs
import pytest

from tests.support import api_client

# Pinned exactly: a new release may warn about something new, and this test must not change
# its verdict by itself.
CODEGEN = ["openapi-python-client==0.29.1"]
V = "/api/v1"
SPEC = {"name": "typed", "steps": [{"name": "a", "run": "echo hi", "timeout": "30s"},
                                   {"name": "b", "sleep": 0, "if": True}]}


def _build(root: Path) -> None:
    if root.exists():
        shutil.rmtree(root)  # a half-built one, from a run that was stopped
    venv.EnvBuilder(with_pip=False).create(root)  # this interpreter's pip installs into it
    done = subprocess.run([sys.executable, "-m", "pip", "--python", root / "bin" / "python",
                           "install", "-q", "--disable-pip-version-check", *CODEGEN],
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, f"could not install {CODEGEN}:\n{done.stdout}\n{done.stderr}"
    (root / "ready").write_text(" ".join(CODEGEN))


@pytest.fixture(scope="session")
def codegen() -> Path:
    """A venv holding openapi-python-client (and ruff, which its post hooks run)."""
    cache = Path(os.environ.get("WFE_CODEGEN_CACHE") or platformdirs.user_cache_dir("wfe-tests"))
    key = hashlib.sha256(f"{sys.version_info[:2]} {CODEGEN}".encode()).hexdigest()[:12]
    root = cache / f"codegen-{key}"
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / f"codegen-{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (root / "ready").exists():
            _build(root)
    return root


# Run inside the codegen venv, in the generated project: parse real answers with the
# generated models and report the Python types they became.
READ = """
import json, sys
from wfe_client.models import CreatedTemplate, ErrorBody, FieldError, PageRun, Run
from wfe_client.models import StepSpec
a = json.load(sys.stdin)
tpl = CreatedTemplate.from_dict(a["template"])
run = Run.from_dict(a["run"])
runs = PageRun.from_dict(a["runs"])
err = ErrorBody.from_dict(a["error"])
print(json.dumps({
    "steps": [type(s).__name__ for s in tpl.steps], "run_cmd": tpl.steps[0].run,
    "timeout": tpl.steps[0].timeout, "created_at": type(tpl.created_at).__name__,
    "id": type(run.id).__name__, "status": repr(run.status),
    "finished_at": run.finished_at.isoformat(), "step_status": repr(run.steps[0].status),
    "listed": [str(r.id) for r in runs.items],
    "details": [type(d).__name__ for d in err.error.details], "path": err.error.details[0].path,
}))
"""


async def answers(settings) -> tuple[str, dict]:
    async with api_client(settings) as api:
        resp = await api.client.get(f"{V}/openapi.json")
        assert resp.status == 200
        doc = await resp.text()
        tpl = await api.template(SPEC)
        run = await api.wait_status((await api.start("typed"))["id"], "completed")
        _, runs = await api.get(f"{V}/workflows", expect=200)
        _, error = await api.post(f"{V}/workflows", json={"template": 3}, expect=422)
    return doc, {"template": tpl, "run": run, "runs": runs, "error": error}


async def test_a_generated_client_has_no_warning_and_reads_real_answers(settings, codegen,
                                                                         tmp_path):
    doc, real = await answers(settings)
    (tmp_path / "openapi.json").write_text(doc)
    # Its post hooks run ruff from PATH: the venv's, so they run (a missing one is a warning).
    env = {**os.environ, "PATH": f"{codegen / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    generated = await asyncio.to_thread(
        subprocess.run, [codegen / "bin" / "openapi-python-client", "generate", "--path",
                         tmp_path / "openapi.json", "--output-path", tmp_path / "client",
                         "--fail-on-warning"],
        capture_output=True, text=True, env=env, timeout=120, check=False)
    assert generated.returncode == 0, generated.stdout + generated.stderr
    read = await asyncio.to_thread(
        subprocess.run, [codegen / "bin" / "python", "-c", READ], input=json.dumps(real),
        cwd=tmp_path / "client", capture_output=True, text=True, timeout=60, check=False)
    assert read.returncode == 0, read.stderr
    typed = json.loads(read.stdout)
    assert typed == {
        "steps": ["StepSpec", "StepSpec"], "run_cmd": "echo hi", "timeout": "30s",
        "created_at": "datetime", "id": "UUID", "status": "<RunStatus.COMPLETED: 'completed'>",
        "finished_at": typed["finished_at"], "step_status": "<StepStatus.SUCCEEDED: 'succeeded'>",
        "listed": [real["run"]["id"]], "details": ["FieldError"], "path": "template"}
    assert typed["finished_at"].startswith(real["run"]["finished_at"][:19])
