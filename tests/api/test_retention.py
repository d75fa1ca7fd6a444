"""Retention: ended runs older than their retention are deleted by a background loop."""

from __future__ import annotations

import dataclasses

from tests.conftest import async_wait_until
from tests.support import api_client
from wfe.config import paths

V = "/api/v1"
PLAIN = {"name": "plain", "steps": [{"name": "a", "run": "echo plain"}]}
LONG = {"name": "long", "retention": "1h", "steps": [{"name": "a", "run": "echo long"}]}
SHORT = {"name": "short", "retention": "1s", "steps": [{"name": "a", "run": "echo short"}]}
GATE = {"name": "gate", "steps": [{"name": "g", "approval": {"message": "go?"}}]}


async def gone(api, run_id: str) -> bool:
    status, _ = await api.get(f"{V}/workflows/{run_id}")
    return status == 404


async def finished(api, name: str) -> str:
    run = await api.start(name)
    await api.wait_status(run["id"], "completed")
    return run["id"]


async def test_retention_deletes_old_ended_runs_only(settings):
    settings = dataclasses.replace(settings, retention="1s", retention_interval=0.2,
                                   retention_batch=2)
    async with api_client(settings) as api:
        for spec in (PLAIN, LONG, GATE):
            await api.template(spec)
        old = [await finished(api, "plain") for _ in range(5)]
        held = await finished(api, "long")  # its template keeps runs an hour
        waiting = await api.start("gate")  # not ended: never deleted, however old
        await api.wait_status(waiting["id"], "waiting_approval")

        async def all_gone():  # the logs go once the deletion is committed
            return all([await gone(api, r) and not (paths().logs_dir / r).exists()
                        for r in old])

        await async_wait_until(all_gone, timeout=30, message="old runs and logs deleted")
        assert (await api.run(held))["status"] == "completed"
        assert (await api.run(waiting["id"]))["status"] == "waiting_approval"
        assert (paths().logs_dir / held).exists()
        _, audit = await api.get(f"{V}/audit/events", params={"limit": 500}, expect=200)
        records = {e["data"]["run_id"]: e for e in audit["items"] if e["type"] == "run.deleted"}
        assert set(records) == set(old)
        assert {e["actor"] for e in records.values()} == {"retention"}
        _, summary = await api.get(f"{V}/audit", expect=200)
        assert summary["ok"] and summary["runs"] == 2, summary
        assert {d["run_id"] for d in summary["deleted"]} == set(old)


async def test_a_templates_retention_applies_without_a_default(settings):
    settings = dataclasses.replace(settings, retention_interval=0.2)
    async with api_client(settings) as api:
        await api.template(SHORT)
        await api.template(PLAIN)
        short = await finished(api, "short")
        plain = await finished(api, "plain")

        async def short_gone():
            return await gone(api, short)

        await async_wait_until(short_gone, timeout=30, message="the short run deleted")
        # The plain run finished after the short one, and no default retention is set.
        assert (await api.run(plain))["status"] == "completed"


HANDLING = {"name": "handling", "steps": [{"name": "boom", "run": "exit 3"}],
            "on_failure": [{"name": "slow-cleanup", "run": "sleep 60"}]}


async def test_a_run_whose_handlers_still_run_is_passed_over_not_blocking(settings):
    settings = dataclasses.replace(settings, retention="1s", retention_interval=0.2,
                                   retention_batch=1)
    async with api_client(settings) as api:
        await api.template(HANDLING)
        await api.template(PLAIN)
        handling = await api.start("handling")
        await api.wait_status(handling["id"], "failed")  # its handler sleeps on
        plain = await finished(api, "plain")  # ended later: behind the held run

        async def plain_gone():
            return await gone(api, plain)

        await async_wait_until(plain_gone, timeout=30, message="the later run deleted")
        run = await api.run(handling["id"])
        assert run["status"] == "failed" and run["handlers"]["status"] == "running", run
        status, body = await api.call("DELETE", f"{V}/workflows/{handling['id']}")
        assert status == 409 and "handlers" in body["error"]["message"]


async def test_logs_left_by_a_crash_after_a_deletion_go_at_the_next_start(settings):
    async with api_client(settings) as api:
        await api.template(PLAIN)
        deleted, kept = await finished(api, "plain"), await finished(api, "plain")
        await api.call("DELETE", f"{V}/workflows/{deleted}", expect=200)
    # What a crash between the deletion's commit and the removal of its files leaves.
    left = paths().logs_dir / deleted
    left.mkdir(mode=0o700)
    (left / "a.1.log").write_text("plain\n")
    (left / "a.1.log").chmod(0o600)
    stranger = paths().logs_dir / "00000000-0000-4000-8000-000000000000"  # never a run
    stranger.mkdir(mode=0o700)
    async def removed():
        return not left.exists()

    async with api_client(settings):
        await async_wait_until(removed, timeout=30, message="the deleted run's logs removed")
    assert (paths().logs_dir / kept).exists() and stranger.exists()
