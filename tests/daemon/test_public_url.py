"""public_url: where others reach the daemon, as callback URLs and the cluster view say."""

from __future__ import annotations

from tests.conftest import wait_until


def test_callback_urls_and_the_node_list_give_the_public_url(daemon_factory):
    d = daemon_factory(WFE_PUBLIC_URL="https://wfe.example.com/").start()
    c = d.client()
    tpl = c.create_template({"name": "cb", "steps": [
        {"name": "tell", "run": "echo ${{ steps.hook.callback_url }}"},
        {"name": "hook", "callback": {"timeout": "1h"}}]}, "application/json")
    c.publish_template(tpl["id"])
    run_id = c.start_run("cb")["id"]
    wait_until(lambda: c.get_run(run_id)["steps"][0]["status"] == "succeeded", message="tell")
    said = c.step_log(run_id, "tell").decode().strip()
    assert said.startswith("https://wfe.example.com/api/v1/callbacks/"), said
    wait_until(lambda: c.cluster()["nodes"][0]["url"] == "https://wfe.example.com",
               message="the node's URL")
    c.cancel_run(run_id)


def test_a_public_url_that_is_not_http_stops_the_daemon(daemon_factory):
    d = daemon_factory(WFE_PUBLIC_URL="wfe.example.com")
    d.start(wait=False)
    assert d.proc.wait(30) != 0
    assert "public_url must start with http:// or https://" in d.log()
