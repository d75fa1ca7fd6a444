"""The web UI in a real browser (headless Chromium) against a real daemon: sign in with a
`wfe ui` code, watch a parallel run go to completed without a reload, approve a gate by
clicking, see the API's refusal, and an operator without template editing; no console
errors, and the Content-Security-Policy on every page."""

from __future__ import annotations

import urllib.request

import pytest

from tests.conftest import wait_until
from tests.ui.conftest import shoot, ui_link
from wfe.errors import WfeError

pytestmark = [pytest.mark.slow,
              pytest.mark.sqlite_only("the browser sees the API, which tests/ui's in-process"
                                      " tests check on both backends")]

PARALLEL = {"name": "release", "description": "build, test on two platforms, ship",
            "variables": {"version": {"type": "string", "default": "1.0"}},
            "steps": [
                {"name": "build", "run": "echo build ${{ input.version }}"},
                {"name": "test-linux", "needs": ["build"], "run": "WAIT"},
                {"name": "test-mac", "needs": ["build"], "run": "WAIT"},
                {"name": "shards", "needs": ["build"], "foreach": [1, 2, 3],
                 "run": "echo shard ${{ item }}"},
                {"name": "package", "needs": ["test-linux", "test-mac", "shards"],
                 "run": "echo packaged"}]}
GATED = {"name": "deploy", "steps": [
    {"name": "build", "run": "echo built"},
    {"name": "approve", "needs": ["build"],
     "approval": {"message": "Deploy to production?"}},
    {"name": "ship", "needs": ["approve"], "run": "echo shipped"}]}


def by_css(driver, css: str):
    return driver.find_elements("css selector", css)


def sign_in(driver, daemon) -> None:
    driver.get(ui_link(daemon))
    wait_until(lambda: driver.current_url.endswith("/ui/"), message="the runs page")
    # Marks this document: a reload would lose it.
    driver.execute_script("window.wfeSamePage = true")


def node_status(driver, step: str) -> str | None:
    # Read in one script: the live region may be swapped between a find and a read.
    return driver.execute_script(
        "const g = document.querySelector(`g.node[data-step=\"${arguments[0]}\"]`);"
        " return g ? g.dataset.status : null", step)


def confirm(driver) -> None:
    wait_until(lambda: driver.execute_script("return document.getElementById('confirm').open"),
               message="the confirmation dialog")
    by_css(driver, "#confirm .confirm-ok")[0].click()


def console_errors(driver, allowed: tuple[str, ...] = ()) -> list[str]:
    return [e["message"] for e in driver.get_log("browser")
            if e["level"] == "SEVERE" and not any(a in e["message"] for a in allowed)]


def test_a_parallel_run_goes_live_to_completed(chrome, daemon, tmp_path):
    go = tmp_path / "go"
    spec = {**PARALLEL, "steps": [
        {**s, "run": f"while [ ! -f {go} ]; do sleep 0.05; done"} if s.get("run") == "WAIT"
        else s for s in PARALLEL["steps"]]}
    c = daemon.client()
    c.publish_template(c.create_template(spec)["id"])
    sign_in(chrome, daemon)
    run = c.start_run("release")
    # The new run appears in the list without a reload (the event stream).
    wait_until(lambda: by_css(chrome, f'tr[data-run="{run["id"]}"]'), message="the new run")
    shoot(chrome, "runs")
    chrome.get(f"{daemon.url}/ui/runs/{run['id']}")
    chrome.execute_script("window.wfeSamePage = true")
    wait_until(lambda: node_status(chrome, "test-linux") == "running"
               and node_status(chrome, "test-mac") == "running", message="both branches")
    wait_until(lambda: node_status(chrome, "shards") == "succeeded", message="the foreach")
    shoot(chrome, "run-graph")
    go.write_text("")
    wait_until(lambda: node_status(chrome, "package") == "succeeded", timeout=30,
               message="the last step, live")
    wait_until(lambda: by_css(chrome, '#live[data-run-status="completed"]'),
               message="the run completed, live")
    assert chrome.execute_script("return window.wfeSamePage === true"), "the page reloaded"
    assert console_errors(chrome) == []


def test_a_gate_approved_by_clicking_resumes_the_run(chrome, daemon):
    c = daemon.client()
    c.publish_template(c.create_template(GATED)["id"])
    run_id = c.start_run("deploy")["id"]
    wait_until(lambda: c.get_run(run_id)["status"] == "waiting_approval", message="the gate")
    sign_in(chrome, daemon)
    chrome.get(f"{daemon.url}/ui/approvals")
    # Found and clicked in one script: the live list may be redrawn in between.
    assert "approve" in chrome.execute_script(
        "const a = document.querySelector('.card-title'); a.click(); return a.textContent")
    wait_until(lambda: "/approvals/" in chrome.current_url, message="the gate's page")
    gate_url = chrome.current_url  # stable: a webhook receiver can link to it
    gate_id = c.get_run(run_id)["approvals"][0]["id"]
    assert gate_url == f"{daemon.url}/ui/runs/{run_id}/approvals/{gate_id}"
    chrome.execute_script("window.wfeSamePage = true")
    assert "Deploy to production?" in chrome.execute_script(
        "return document.querySelector('.gate-message').textContent")
    shoot(chrome, "approval")
    by_css(chrome, "#gate-comment")[0].send_keys("looks good")
    next(b for b in by_css(chrome, ".actions button[data-api]") if b.text == "Approve").click()
    confirm(chrome)
    wait_until(lambda: c.get_run(run_id)["status"] == "completed", message="the run resumed")
    gate = c.get_run(run_id)["approvals"][0]
    assert gate["status"] == "approved" and gate["comment"] == "looks good"
    wait_until(lambda: by_css(chrome, '#live[data-gate-status="approved"]'),
               message="the page showing the decision")
    assert chrome.execute_script("return window.wfeSamePage === true")
    assert console_errors(chrome) == []


def test_a_refused_action_shows_the_apis_message(chrome, daemon):
    c = daemon.client()
    c.publish_template(c.create_template({"name": "quick", "steps": [
        {"name": "a", "run": "echo a"}]})["id"])
    run_id = c.start_run("quick")["id"]
    wait_until(lambda: c.get_run(run_id)["status"] == "completed", message="the run")
    sign_in(chrome, daemon)
    chrome.get(f"{daemon.url}/ui/runs/{run_id}")
    next(b for b in by_css(chrome, ".actions button[data-api]") if b.text == "Resume").click()
    confirm(chrome)
    flash = by_css(chrome, "#flash")[0]
    wait_until(lambda: flash.is_displayed() and flash.text, message="the error")
    with pytest.raises(WfeError) as refused:  # the same refusal, from the API directly
        c.resume_run(run_id)
    assert flash.text == f"{refused.value.code}: {refused.value.message}"
    assert "cannot resume" in flash.text
    # The browser logs the 409 answer itself; nothing else may be in the console.
    assert console_errors(chrome, allowed=("409",)) == []


def test_an_operator_sees_no_template_editing(chrome, daemon):
    c = daemon.client()
    tpl = c.publish_template(c.create_template(GATED)["id"])
    operator = c.create_user("olga", "operator")
    chrome.get(f"{daemon.url}/ui/templates")  # not signed in: sent to sign in, then back
    wait_until(lambda: "/ui/login" in chrome.current_url, message="the sign-in page")
    by_css(chrome, 'input[name="token"]')[0].send_keys(operator["token"])
    by_css(chrome, 'form[action="/ui/login"] button')[0].click()
    wait_until(lambda: chrome.current_url.endswith("/ui/templates"),
               message=f"templates {chrome.current_url} {chrome.page_source[-1500:]}")
    assert "olga" in by_css(chrome, ".who")[0].text
    assert by_css(chrome, "form[data-draft]") == []
    chrome.get(f"{daemon.url}/ui/templates/{tpl['id']}")
    assert by_css(chrome, "form[data-draft]") == [] and by_css(chrome, "form[data-start]")
    assert console_errors(chrome) == []


def test_every_page_has_the_csp_header(daemon):
    for path in ("/ui/login", "/ui/static/app.js"):
        with urllib.request.urlopen(daemon.url + path) as resp:
            csp = resp.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, path
