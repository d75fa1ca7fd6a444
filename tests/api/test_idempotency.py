"""Idempotency-Key on starting a run: one run per key and body, per user, within the window."""

from __future__ import annotations

import asyncio
import threading

from tests.conftest import FAST, async_wait_until
from tests.support import api_client
from wfe.config import Settings, paths
from wfe.daemon import keys
from wfe.daemon.store import ops_idempotency

V = "/api/v1"
SPEC = {"name": "once", "variables": {"who": {"type": "string", "default": "x"}},
        "steps": [{"name": "a", "set": {"v": "${{ input.who }}"}}]}
BODY = {"template": "once", "input": {"who": "ada"}}


async def start(api, key: str | None, body: dict = BODY, token: str | None = None):
    headers = {"Idempotency-Key": key} if key is not None else {}
    resp = await api.client.post(f"{V}/workflows", json=body,
                                 headers=api.headers(token, **headers))
    return resp.status, resp.headers.get("Idempotent-Replayed"), await resp.json()


async def runs_of(api, token: str | None = None) -> list[dict]:
    _, page = await api.get(f"{V}/workflows", token=token, expect=200)
    return page["items"]


async def test_a_replay_answers_the_same_run_and_starts_nothing(settings):
    async with api_client(settings) as api:
        await api.template(SPEC)
        status, replayed, first = await start(api, "order-42")
        assert (status, replayed) == (201, None)
        # The same body spelled differently (a default written out) is the same request.
        status, replayed, again = await start(api, "order-42", {**BODY, "trigger_type": "api"})
        assert (status, replayed) == (200, "true")
        assert again["id"] == first["id"] and again["status"] in ("pending", "running",
                                                                  "completed")
        assert [r["id"] for r in await runs_of(api)] == [first["id"]]
        status, replayed, other = await start(api, None)  # no key: a new run each time
        assert (status, replayed) == (201, None) and other["id"] != first["id"]


async def test_the_same_key_with_another_body_is_422(settings):
    async with api_client(settings) as api:
        await api.template(SPEC)
        _, _, first = await start(api, "k1")
        status, _, body = await start(api, "k1", {**BODY, "input": {"who": "bob"}})
        assert status == 422
        assert body["error"]["code"] == "idempotency_key_reused"
        assert body["error"]["details"] == {"run_id": first["id"]}
        assert len(await runs_of(api)) == 1


async def test_another_users_same_key_starts_their_own_run(settings):
    async with api_client(settings) as api:
        await api.template(SPEC)
        _, bob = await api.post(f"{V}/users", json={"name": "bob"}, expect=201)
        _, _, mine = await start(api, "shared")
        status, replayed, theirs = await start(api, "shared", token=bob["token"])
        assert (status, replayed) == (201, None) and theirs["id"] != mine["id"]
        assert theirs["owner"] == "bob"
        # And another body under that key is fine for bob: the keys are independent.
        status, _, _ = await start(api, "shared", {**BODY, "input": {}}, token=bob["token"])
        assert status == 422  # ...but his own key now holds his first body
        assert [r["id"] for r in await runs_of(api, bob["token"])] == [theirs["id"]]


async def test_concurrent_starts_with_one_key_make_one_run(settings):
    async with api_client(settings) as api:
        await api.template(SPEC)
        writer = api.app[keys.STORE].write
        # Hold the single writer, so all twenty pass the lookup (no key yet) and race to
        # commit: the primary key decides, and the losers answer the winner's run.
        gate = threading.Event()
        held = asyncio.ensure_future(writer(lambda conn: gate.wait(30)))
        await async_wait_until(_async(lambda: writer._queue.qsize() == 0), message="the hold")
        starts = asyncio.gather(*(start(api, "race") for _ in range(20)))
        await async_wait_until(_async(lambda: writer._queue.qsize() == 20),
                               message="twenty starts queued at the writer")
        gate.set()
        answers = await starts
        await held
        ids = {body["id"] for _, _, body in answers}
        assert len(ids) == 1, answers
        statuses = sorted(status for status, _, _ in answers)
        assert statuses == [200] * 19 + [201]
        assert all(replayed == "true" for status, replayed, _ in answers if status == 200)
        assert [r["id"] for r in await runs_of(api)] == list(ids)


def _async(pred):
    async def check():
        return pred()
    return check


async def test_a_key_survives_a_restart(settings):
    async with api_client(settings) as api:
        await api.template(SPEC)
        _, _, first = await start(api, "durable")
    async with api_client(settings) as api:  # the same WFE_HOME, a new daemon
        status, replayed, again = await start(api, "durable")
        assert (status, replayed, again["id"]) == (200, "true", first["id"])
        assert len(await runs_of(api)) == 1


async def test_keys_expire_and_are_pruned_after_the_window(home):
    s = Settings.load(paths(), port=0, idempotency_window=0.5, **FAST)
    async with api_client(s) as api:
        await api.template(SPEC)
        _, _, first = await start(api, "brief")
        store = api.app[keys.STORE]

        async def pruned():  # looked up with a window long enough to still see it
            return await ops_idempotency.find_key(store, first["owner"],
                                                  "brief", 3600) is None

        await async_wait_until(pruned, timeout=20, message="the key's pruning")
        status, replayed, second = await start(api, "brief")
        assert (status, replayed) == (201, None) and second["id"] != first["id"]


async def test_a_malformed_key_is_422(settings):
    async with api_client(settings) as api:
        await api.template(SPEC)
        for key in ("", "k" * 256, "tab\there"):
            status, _, body = await start(api, key)
            assert status == 422, (key, body)
            assert body["error"]["details"][0]["path"] == "Idempotency-Key"
        status, _, _ = await start(api, "k" * 255)
        assert status == 201
        assert len(await runs_of(api)) == 1
