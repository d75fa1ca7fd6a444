"""Expressions with bounded cost, over HTTP: a constant over max_expression_bytes is refused
when the template is created; one that input makes too large fails its step, and only it."""

from __future__ import annotations

import dataclasses
import resource

from tests.support import api_client


def _max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def test_a_constant_expression_over_the_limit_is_refused_at_creation(settings):
    spec = {"name": "bomb", "steps": [{"name": "a", "run": "echo ${{ 'x'|center(200000000) }}"}]}
    before = _max_rss_mb()
    async with api_client(settings) as api:
        status, err = await api.post("/api/v1/templates", json=spec)
        assert status == 422, err
        [detail] = err["error"]["details"]
        assert detail["path"] == "steps[0].run"
        assert "'${{ 'x'|center(200000000) }}' is too large" in detail["message"]
        assert "max_expression_bytes" in detail["message"]
    assert _max_rss_mb() - before < 100


async def test_the_daemon_passes_its_setting(settings):
    small = dataclasses.replace(settings, max_expression_bytes=1000)
    spec = {"name": "wide", "steps": [{"name": "a", "set": {"v": "${{ 'x' * 2000 }}"}}]}
    async with api_client(small) as api:
        status, err = await api.post("/api/v1/templates", json=spec)
        assert status == 422 and "over the limit of 1000" in err["error"]["details"][0]["message"]
    async with api_client(settings) as api:
        await api.post("/api/v1/templates", json=spec, expect=201)


async def test_input_that_makes_an_expression_explode_fails_that_step(settings):
    spec = {"name": "pad", "variables": {"n": {"type": "integer"}}, "steps": [
        {"name": "ok", "run": "echo fine"},
        {"name": "wide", "run": "echo ${{ 'x'|center(input.n) }}"},
        {"name": "never", "run": "echo unreachable"}]}
    before = _max_rss_mb()
    async with api_client(settings) as api:
        await api.template(spec)
        run = await api.start("pad", n=200000000)
        done = await api.wait_status(run["id"], "failed")
        wide = done["steps"][1]
        assert done["steps"][0]["status"] == "succeeded" and wide["status"] == "failed"
        assert "'${{ 'x'|center(input.n) }}' is too large" in wide["error"]
        assert done["steps"][2]["status"] == "pending"
        # The daemon is fine: it answers, and the same template runs with a sane input.
        await api.get("/api/v1/health", expect=200)
        again = await api.start("pad", n=20)
        assert (await api.wait_status(again["id"], "completed"))["status"] == "completed"
    assert _max_rss_mb() - before < 100
