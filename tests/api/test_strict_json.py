"""NaN and Infinity are refused wherever JSON comes in, and never written out."""

from __future__ import annotations

import json
import math

import pytest

from tests.support import api_client
from wfe import errors
from wfe.client import Client
from wfe.daemon.store.util import dumps, loads
from wfe.engine import strictjson

V = "/api/v1"
NON_FINITE = ["NaN", "Infinity", "-Infinity", "1e999", "-1e999"]
TEMPLATE = {"name": "nums", "variables": {"x": {"type": "number", "default": 1}},
            "steps": [{"name": "a", "set": {"v": "${{ input.x }}"}}]}


def strict(text: str):
    """A parser as strict as JavaScript's: the answer must read."""
    def refuse(name):
        raise AssertionError(f"{name} in an answer")

    return json.loads(text, parse_constant=refuse)


async def raw_post(api, path: str, text: str, token: str | None = "", ctype="application/json"):
    headers = {"Content-Type": ctype}
    if token is not None:
        headers["Authorization"] = f"Bearer {token or api.token}"
    resp = await api.client.post(path, data=text.encode(), headers=headers)
    return resp.status, strict(await resp.text())


@pytest.mark.parametrize("number", NON_FINITE)
async def test_request_bodies_refuse_nan_and_infinity(settings, number):
    async with api_client(settings) as api:
        await api.template(TEMPLATE)
        status, body = await raw_post(api, f"{V}/workflows",
                                      f'{{"template": "nums", "input": {{"x": {number}}}}}')
        assert status == 422, body
        assert body["error"]["code"] == "validation_failed"
        assert "NaN and Infinity" in body["error"]["details"][0]["message"]
        status, body = await raw_post(api, f"{V}/templates",
                                      json.dumps(TEMPLATE).replace('"default": 1',
                                                                   f'"default": {number}'))
        assert status == 422, body
        _, page = await api.get(f"{V}/workflows", expect=200)
        assert page["total"] == 0


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf"])
async def test_yaml_templates_refuse_nan_and_infinity(settings, value):
    async with api_client(settings) as api:
        text = f"name: y\nsteps:\n  - name: a\n    set: {{v: [1, {value}]}}\n"
        status, body = await raw_post(api, f"{V}/templates", text, ctype="application/yaml")
        assert status == 422, body
        assert body["error"]["details"] == [
            {"path": "steps[0].set.v[1]", "message": "NaN and Infinity are not JSON numbers"}]


async def test_callback_payloads_refuse_nan(settings):
    async with api_client(settings) as api:
        await api.template({"name": "cb", "steps": [
            {"name": "wait", "callback": {"timeout": "1h"}}]})
        run = await api.start("cb")
        status, body = await raw_post(api, f"{V}/workflows/{run['id']}/steps/wait/callback",
                                      '{"sha": NaN}')
        assert status == 422, body
        assert "NaN" in body["error"]["details"][0]["message"]
        status, body = await raw_post(api, f"{V}/workflows/{run['id']}/steps/wait/callback",
                                      '{"sha": "abc"}')
        assert status == 202, body
        done = await api.wait_status(run["id"], "completed")
        assert done["steps"][0]["output"] == {"sha": "abc"}


@pytest.mark.parametrize("step", [
    {"name": "a", "run": "printf '{\"x\": NaN}' > \"$WFE_OUTPUT\""},
    {"name": "a", "run": "printf '{\"x\": [1, -Infinity]}' > \"$WFE_OUTPUT\""},
    {"name": "a", "set": {"x": "${{ 1e308 * 10 }}"}},
], ids=["output-nan", "output-infinity", "set-infinity"])
async def test_a_step_output_holding_nan_or_infinity_fails_the_step(settings, step):
    async with api_client(settings) as api:
        await api.template({"name": "out", "steps": [step]})
        run = await api.start("out")
        await api.wait_status(run["id"], "failed")
        resp = await api.client.get(f"{V}/workflows/{run['id']}", headers=api.headers())
        done = strict(await resp.text())  # and the answer is strict JSON
        failed = done["steps"][0]
        assert failed["status"] == "failed" and failed["output"] is None
        assert "NaN" in failed["error"] or "Infinity" in failed["error"], failed["error"]


def test_what_the_store_writes_is_strict_and_old_rows_still_read():
    for bad in (math.nan, math.inf, {"a": [-math.inf]}):
        with pytest.raises(ValueError):
            dumps(bad)
    assert loads('{"a": NaN, "b": [Infinity, -Infinity], "c": 1.5}') == {
        "a": None, "b": [None, None], "c": 1.5}


def test_strict_loads_and_the_path_of_a_non_finite_value():
    for text in NON_FINITE:
        with pytest.raises(strictjson.NonFiniteNumber):
            strictjson.loads(f"[{text}]")
    assert strictjson.loads('{"a": 1.5e300}') == {"a": 1.5e300}
    assert strictjson.nonfinite_path({"a": [1, {"b": math.nan}]}) == "a[1].b"
    assert strictjson.nonfinite_path(math.inf) == "(value)"
    assert strictjson.nonfinite_path({"a": [1, "NaN"]}) is None


def test_the_client_refuses_to_send_nan():
    client = Client("http://127.0.0.1:9")  # nothing listens: it must fail before sending
    with pytest.raises(errors.UsageError, match="NaN and Infinity"):
        client.start_run("t", {"x": math.nan})
