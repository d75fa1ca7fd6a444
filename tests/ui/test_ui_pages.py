"""The web UI's pages, rendered from the API's own answers: what each shows, roles and
owner scoping as the API has them, and the graph layout."""

from __future__ import annotations

import re

from tests.support import api_client
from tests.ui.uihelp import sign_in, ui_settings
from wfe.daemon.ui import graph

V = "/api/v1"
FAN = {"name": "fan", "variables": {
    "who": {"type": "string", "default": "world", "description": "whom to greet"},
    "level": {"type": "enum", "values": ["low", "high"], "default": "low"},
    "count": {"type": "integer", "default": 2},
    "password": {"type": "string", "secret": True, "required": False}},
    "steps": [
        {"name": "prep", "run": "echo prep"},
        {"name": "left", "needs": ["prep"], "run": "echo left"},
        {"name": "right", "needs": ["prep"], "foreach": [1, 2, 3], "run": "echo ${{ item }}"},
        {"name": "gate", "needs": ["left", "right"], "approval": {"message": "ship <it>?"}}]}


async def test_a_run_page_draws_its_graph_and_its_gate(home):
    async with api_client(ui_settings(home)) as api:
        await api.template(FAN)
        run = await api.wait_status((await api.start("fan"))["id"], "waiting_approval")
        cookie = await sign_in(api)
        resp = await api.client.get(f"/ui/runs/{run['id']}", headers=cookie)
        html = await resp.text()
        assert resp.status == 200
        nodes = {step: st for st, step in
                 re.findall(r'<g class="node st-(\w+)" data-step="(\w+)"', html)}
        assert nodes == {
            "prep": "succeeded", "left": "succeeded", "right": "succeeded", "gate": "waiting"}
        assert html.count('class="edge"') == 4  # prep->left, prep->right, left->gate, right->gate
        assert 'class="bar-succeeded"' in html  # the foreach node's progress
        assert "ship &lt;it&gt;?" in html  # escaped
        gate = run["approvals"][0]
        page = await api.client.get(f"/ui/runs/{run['id']}/approvals/{gate['id']}",
                                    headers=cookie)
        text = await page.text()
        assert page.status == 200 and f"{V}/workflows/{run['id']}/approvals/{gate['id']}/approve" \
            in text
        inbox = await (await api.client.get("/ui/approvals", headers=cookie)).text()
        assert f"/ui/runs/{run['id']}/approvals/{gate['id']}" in inbox
        step = await api.client.get(f"/ui/runs/{run['id']}/steps/right", headers=cookie)
        body = await step.text()
        assert step.status == 200 and body.count("<tr><td>") >= 3  # its items
        runs = await (await api.client.get("/ui/?status=waiting_approval", headers=cookie)).text()
        assert run["id"][:8] in runs and "fan@1" in runs


async def test_another_users_run_is_404_in_the_ui_too(home):
    async with api_client(ui_settings(home)) as api:
        await api.template(FAN)
        run = await api.wait_status((await api.start("fan"))["id"], "waiting_approval")
        _, bob = await api.post(f"{V}/users", json={"name": "bob"}, expect=201)
        cookie = await sign_in(api, bob["token"])
        gate = run["approvals"][0]["id"]
        for path in (f"/ui/runs/{run['id']}", f"/ui/runs/{run['id']}/steps/prep",
                     f"/ui/runs/{run['id']}/approvals/{gate}"):
            resp = await api.client.get(path, headers=cookie)
            assert resp.status == 404, path
            assert run["id"][:8] not in (await resp.text()).split("not found")[-1]
        runs = await (await api.client.get("/ui/", headers=cookie)).text()
        assert run["id"][:8] not in runs
        inbox = await (await api.client.get("/ui/approvals", headers=cookie)).text()
        assert run["id"] not in inbox


async def test_an_operator_sees_no_template_editing(home):
    async with api_client(ui_settings(home)) as api:
        tpl = await api.template(FAN)
        _, op = await api.post(f"{V}/users", json={"name": "olga", "role": "operator"},
                               expect=201)
        _, au = await api.post(f"{V}/users", json={"name": "abe", "role": "author"},
                               expect=201)
        for who, editing in ((op, False), (au, True)):
            cookie = await sign_in(api, who["token"])
            for path in ("/ui/templates", f"/ui/templates/{tpl['id']}"):
                html = await (await api.client.get(path, headers=cookie)).text()
                assert ("data-draft" in html) is editing, (who["user"]["role"], path)
            html = await (await api.client.get(f"/ui/templates/{tpl['id']}",
                                               headers=cookie)).text()
            assert "data-start=" in html  # both may start runs


async def test_the_start_form_follows_the_declared_variables(home):
    async with api_client(ui_settings(home)) as api:
        tpl = await api.template(FAN)
        cookie = await sign_in(api)
        html = await (await api.client.get(f"/ui/templates/{tpl['id']}", headers=cookie)).text()
        assert re.search(r'<select name="level" data-type="enum"', html)
        assert '<option value="high" >high</option>' in html or 'value="high"' in html
        assert re.search(r'<input type="password" name="password"', html)
        assert re.search(r'<input type="number" name="count" data-type="integer" value="2"', html)
        assert '<span class="hl-k">steps</span>' in html  # the highlighted source
        assert '<span class="hl-e">${{ item }}</span>' in html


async def test_static_assets_are_small_and_shipped(home):
    async with api_client(ui_settings(home)) as api:
        cookie = await sign_in(api)
        html = await (await api.client.get("/ui/", headers=cookie)).text()
        total = len(html.encode())
        for asset in re.findall(r'(?:src|href)="(/ui/static/[^"]+)"', html):
            resp = await api.client.get(asset)
            assert resp.status == 200, asset
            total += len(await resp.read())
        assert total < 150_000


def test_parallel_steps_share_a_column_and_a_chain_is_a_row():
    steps = [{"name": "a"}, {"name": "b", "needs": ["a"]}, {"name": "c", "needs": ["a"]},
             {"name": "d", "needs": ["b", "c"], "status": "running"}]
    g = graph.layout(steps)
    at = {n.name: (n.x, n.y) for n in g.nodes}
    assert at["b"][0] == at["c"][0] > at["a"][0] and at["b"][1] != at["c"][1]
    assert at["d"][0] > at["b"][0] and len(g.edges) == 4
    assert next(n for n in g.nodes if n.name == "d").status == "running"
    chain = graph.layout([{"name": "x"}, {"name": "y"}, {"name": "z"}])
    assert len({n.y for n in chain.nodes}) == 1 and len(chain.edges) == 2
    foreach = graph.layout([{"name": "f", "foreach": [1], "items": {
        "total": 4, "succeeded": 2, "failed": 1, "running": 1}}])
    assert [cls for cls, _, _ in foreach.nodes[0].bar] == ["succeeded", "failed", "running"]
