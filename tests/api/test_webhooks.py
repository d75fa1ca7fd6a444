"""Outbound webhooks through the in-process app, to a real receiver on loopback."""

from __future__ import annotations

import dataclasses

import pytest

from tests.conftest import async_wait_until
from tests.support import api_client
from tests.webhook_receiver import Receiver
from wfe.daemon import keys, webhooks
from wfe.daemon.store import ops_webhooks
from wfe.daemon.store.util import now_iso
from wfe.daemon.webhooks import Deliverer, GuardedResolver, RefusedDestination, http_session
from wfe.engine.webhooks import MAX_ATTEMPTS

QUICK = {"name": "quick", "steps": [{"name": "a", "set": {"x": 1}}]}
GATED = {"name": "gated", "steps": [{"name": "gate", "approval": {"message": "go?"}}]}


@pytest.fixture
def fast(settings):
    # Every retry in a few milliseconds: the whole 8-attempt schedule fits in ~2 s.
    return dataclasses.replace(settings, webhook_retry_base=0.0001, webhook_timeout=2.0)


@pytest.fixture
def receiver():
    with Receiver() as r:
        yield r


async def subscribe(api, receiver, path="/ok", events=("*",), **extra) -> dict:
    _, hook = await api.post("/api/v1/webhooks", expect=201, json={
        "url": receiver.url(path), "events": list(events), **extra})
    receiver.secrets.append(hook["secret"])
    return hook


async def deliveries(api, hook_id, **query) -> list[dict]:
    _, body = await api.get(f"/api/v1/webhooks/{hook_id}/deliveries", params=query, expect=200)
    return body["items"]


async def settled(api, hook_id, n=1, status="delivered") -> list[dict]:
    async def done():
        items = await deliveries(api, hook_id)
        return items if len(items) >= n and all(d["status"] == status for d in items) else None
    return await async_wait_until(done, message=f"{n} deliveries {status}")


async def test_crud_and_the_secret_shown_once(fast):
    async with api_client(fast) as api:
        _, hook = await api.post("/api/v1/webhooks", expect=201, json={
            "url": "http://127.0.0.1:9/hook", "events": ["run.*", "approval.requested"]})
        assert hook["secret"].startswith("whsec_") and hook["events"] == ["run.*",
                                                                          "approval.requested"]
        _, listed = await api.get("/api/v1/webhooks", expect=200)
        assert [h["id"] for h in listed["items"]] == [hook["id"]] and listed["total"] == 1
        assert listed["items"][0]["secret"] is None
        _, one = await api.get(f"/api/v1/webhooks/{hook['id']}", expect=200)
        assert one["url"] == "http://127.0.0.1:9/hook" and one["secret"] is None
        status, _ = await api.call("DELETE", f"/api/v1/webhooks/{hook['id']}")
        assert status == 204
        await api.get(f"/api/v1/webhooks/{hook['id']}", expect=404)
        await api.call("DELETE", f"/api/v1/webhooks/{hook['id']}", expect=404)


async def test_a_given_secret_is_kept_and_events_default_to_all(fast):
    secret = "whsec_" + "QUJD" * 8  # 24 bytes
    async with api_client(fast) as api:
        _, hook = await api.post("/api/v1/webhooks", expect=201,
                                 json={"url": "https://example.com/h", "secret": secret})
        assert hook["secret"] == secret and hook["events"] == ["*"]


async def test_another_users_webhook_is_404(fast):
    async with api_client(fast) as api:
        _, hook = await api.post("/api/v1/webhooks", expect=201,
                                 json={"url": "http://localhost:9/h"})
        _, bob = await api.post("/api/v1/users", json={"name": "bob"}, expect=201)
        base = f"/api/v1/webhooks/{hook['id']}"
        for method, path in [("GET", base), ("DELETE", base), ("GET", base + "/deliveries"),
                             ("POST", base + "/test")]:
            await api.call(method, path, token=bob["token"], expect=404)
        _, theirs = await api.get("/api/v1/webhooks", token=bob["token"], expect=200)
        assert theirs["total"] == 0
        _, msg = await api.post(base + "/test", expect=202)
        await api.get(f"/api/v1/deliveries/{msg['id']}", token=bob["token"], expect=404)
        await api.post(f"{base}/deliveries/{msg['id']}/redeliver", token=bob["token"],
                       expect=404)


@pytest.mark.parametrize("body, path", [
    ({"url": "ftp://example.com/x"}, "url"),
    ({"url": "http://169.254.169.254/latest/meta-data"}, "url"),
    ({"url": "http://[fe80::1]/"}, "url"),
    ({"url": "http://[::ffff:169.254.169.254]/"}, "url"),
    ({"url": "http://metadata.google.internal/computeMetadata/v1/"}, "url"),
    ({"url": "http://100.100.100.200/"}, "url"),
    ({"url": "http://0.0.0.0:8080/"}, "url"),
    ({"url": "not a url"}, "url"),
    ({"url": "http://127.0.0.1/", "events": ["run.*", "bad pattern!"]}, "events[1]"),
    ({"url": "http://127.0.0.1/", "secret": "nope"}, "secret"),
    ({"url": "http://127.0.0.1/", "secret": "whsec_c2hvcnQ="}, "secret"),
    ({"url": "http://127.0.0.1/", "events": []}, "events"),
])
async def test_refused_subscriptions_are_422(fast, body, path):
    async with api_client(fast) as api:
        _, err = await api.post("/api/v1/webhooks", json=body, expect=422)
        assert path in [d["path"] for d in err["error"]["details"]], err


async def test_private_addresses_can_be_turned_off(fast):
    async with api_client(dataclasses.replace(fast, webhook_allow_private=False)) as api:
        for url in ("http://127.0.0.1:9/", "http://10.1.2.3/", "http://[fd00::1]/"):
            _, err = await api.post("/api/v1/webhooks", json={"url": url}, expect=422)
            assert "private" in err["error"]["details"][0]["message"]


async def test_events_arrive_signed_filtered_and_marked_delivered(fast, receiver):
    async with api_client(fast) as api:
        hook = await subscribe(api, receiver, events=["run.*"])
        await api.template(QUICK)
        run = await api.start("quick")
        await api.wait_status(run["id"], "completed")
        await async_wait_until(_has(receiver, "run.completed"), message="run.completed")
        assert receiver.types() == ["run.created", "run.started", "run.completed"]
        hit = receiver.delivered()[0]
        assert hit.verified and set(hit.payload) == {"id", "type", "timestamp", "data"}
        assert hit.headers["webhook-id"] == hit.payload["id"]
        assert hit.payload["data"]["run_id"] == run["id"]
        items = await settled(api, hook["id"], 3)
        assert {(d["attempts"], d["last_status_code"], d["last_error"]) for d in items} == {
            (1, 204, None)}
        assert all(d["delivered_at"] and d["next_attempt_at"] is None for d in items)


async def test_a_failing_receiver_gets_the_same_message_again(fast):
    with Receiver(fail_first=2) as receiver:
        async with api_client(fast) as api:
            hook = await subscribe(api, receiver, "/flaky")
            _, msg = await api.post(f"/api/v1/webhooks/{hook['id']}/test", expect=202)
            assert msg["status"] == "pending" and msg["type"] == "webhook.test"
            [done] = await settled(api, hook["id"])
            assert (done["attempts"], done["last_status_code"]) == (3, 200)
            assert done["last_error"] is None
            ids = {h.headers["webhook-id"] for h in receiver.hits}
            assert ids == {msg["id"]} and len(receiver.hits) == 3
            assert [h.status for h in receiver.hits] == [500, 500, 200]
            assert all(h.verified for h in receiver.hits)
            stamps = [int(h.headers["webhook-timestamp"]) for h in receiver.hits]
            assert stamps == sorted(stamps)  # re-signed at each attempt


async def test_a_receiver_that_never_answers_well_ends_failed(fast, receiver):
    async with api_client(fast) as api:
        hook = await subscribe(api, receiver, "/down")
        await api.post(f"/api/v1/webhooks/{hook['id']}/test", expect=202)
        [failed] = await settled(api, hook["id"], status="failed")
        assert failed["attempts"] == MAX_ATTEMPTS == len(receiver.hits)
        assert failed["last_status_code"] == 503 and failed["last_error"].startswith("HTTP 503")
        assert failed["next_attempt_at"] is None
        [listed] = await deliveries(api, hook["id"], status="failed")
        assert listed["id"] == failed["id"]
        assert await deliveries(api, hook["id"], status="delivered") == []
        await api.get(f"/api/v1/webhooks/{hook['id']}/deliveries?status=nope", expect=422)


async def test_redeliver_sends_the_same_message_once_more(fast, receiver):
    async with api_client(fast) as api:
        hook = await subscribe(api, receiver)
        _, msg = await api.post(f"/api/v1/webhooks/{hook['id']}/test", expect=202)
        await settled(api, hook["id"])
        _, again = await api.post(
            f"/api/v1/webhooks/{hook['id']}/deliveries/{msg['id']}/redeliver", expect=202)
        assert again["status"] == "pending" and again["attempts"] == 0
        await async_wait_until(_count(receiver, 2), message="a second delivery")
        [done] = await settled(api, hook["id"])
        assert done["attempts"] == 1 and done["payload"] is None
        assert [h.headers["webhook-id"] for h in receiver.hits] == [msg["id"]] * 2
        _, full = await api.get(f"/api/v1/deliveries/{msg['id']}", expect=200)
        assert full["payload"]["type"] == "webhook.test" and full["webhook_id"] == hook["id"]
        await api.post(f"/api/v1/webhooks/{hook['id']}/deliveries/msg_nope/redeliver",
                       expect=404)


async def test_a_redirect_is_not_followed(settings, receiver):
    async with api_client(settings) as api:  # the real schedule: the retry is 5 s away
        hook = await subscribe(api, receiver, "/redirect")
        await api.post(f"/api/v1/webhooks/{hook['id']}/test", expect=202)

        async def tried():
            [d] = await deliveries(api, hook["id"])
            return d if d["attempts"] == 1 else None
        d = await async_wait_until(tried, message="the first attempt")
        assert d["status"] == "pending" and d["last_status_code"] == 307
        assert "redirect" in d["last_error"] and d["next_attempt_at"] > d["created_at"]
        assert {h.path for h in receiver.hits} == {"/redirect"}


async def test_callback_url_gets_every_event_of_its_run(fast, receiver):
    async with api_client(fast) as api:
        await api.template(GATED)
        _, run = await api.post("/api/v1/workflows", expect=201, json={
            "template": "gated", "callback_url": receiver.url("/ok")})
        assert run["callback_secret"].startswith("whsec_")
        receiver.secrets.append(run["callback_secret"])
        await async_wait_until(_has(receiver, "approval.requested"), message="the gate event")
        assert receiver.types()[:2] == ["run.created", "run.started"]
        assert all(h.verified for h in receiver.hits)
        again = await api.run(run["id"])
        assert again.get("callback_secret") is None  # shown once
        _, hooks = await api.get("/api/v1/webhooks", params={"run_id": run["id"]}, expect=200)
        [hook] = hooks["items"]
        assert hook["run_id"] == run["id"] and hook["events"] == ["*"]
        _, standing = await api.get("/api/v1/webhooks", expect=200)
        assert standing["total"] == 0


async def test_a_refused_callback_url_refuses_the_run(fast):
    async with api_client(fast) as api:
        await api.template(QUICK)
        _, err = await api.post("/api/v1/workflows", expect=422, json={
            "template": "quick", "callback_url": "http://169.254.169.254/"})
        assert err["error"]["details"][0]["path"] == "callback_url"
        _, runs = await api.get("/api/v1/workflows", expect=200)
        assert runs["total"] == 0


async def test_a_deleted_webhook_takes_its_deliveries_with_it(fast):
    async with api_client(fast) as api:
        _, hook = await api.post("/api/v1/webhooks", expect=201,
                                 json={"url": "http://127.0.0.1:9/closed"})
        _, msg = await api.post(f"/api/v1/webhooks/{hook['id']}/test", expect=202)
        await api.call("DELETE", f"/api/v1/webhooks/{hook['id']}", expect=204)
        await api.get(f"/api/v1/deliveries/{msg['id']}", expect=404)


# ---- housekeeping: old deliveries, and the callback hooks of ended runs ----------------

async def test_old_settled_deliveries_are_pruned_pending_and_recent_ones_kept(settings, receiver):
    # The real retry schedule keeps the /down message pending (its next try is 5 s away);
    # a one-second retention makes the delivered one old within the test.
    short = dataclasses.replace(settings, webhook_retention=1.0, webhook_timeout=2.0)
    async with api_client(short) as api:
        ok, down = await subscribe(api, receiver), await subscribe(api, receiver, "/down")
        _, waiting = await api.post(f"/api/v1/webhooks/{down['id']}/test", expect=202)
        _, old = await api.post(f"/api/v1/webhooks/{ok['id']}/test", expect=202)
        await settled(api, ok["id"])
        await async_wait_until(_none(deliveries, api, ok["id"]), message="the old one pruned")
        await api.get(f"/api/v1/deliveries/{old['id']}", expect=404)
        _, still = await api.get(f"/api/v1/deliveries/{waiting['id']}", expect=200)
        assert still["status"] == "pending" and still["attempts"] >= 1
        assert still["created_at"] < old["created_at"]  # older, yet kept: it is pending
        _, new = await api.post(f"/api/v1/webhooks/{ok['id']}/test", expect=202)
        await settled(api, ok["id"])
        # A pass right after its delivery (the same one the daemon runs) keeps it.
        assert await webhooks.housekeep(api.app[keys.STORE], short.webhook_retention) == (0, 0)
        [kept] = await deliveries(api, ok["id"])
        assert kept["id"] == new["id"] and kept["status"] == "delivered"


async def test_pruning_walks_the_table_in_batches_and_stops_at_the_first_young_row(
        settings, receiver):
    async with api_client(dataclasses.replace(settings, webhook_timeout=2.0)) as api:
        store = api.app[keys.STORE]
        ok, down = await subscribe(api, receiver), await subscribe(api, receiver, "/down")
        _, waiting = await api.post(f"/api/v1/webhooks/{down['id']}/test", expect=202)
        for _ in range(4):
            await api.post(f"/api/v1/webhooks/{ok['id']}/test", expect=202)
        await settled(api, ok["id"], 4)
        cutoff = now_iso()
        young = [(await api.post(f"/api/v1/webhooks/{ok['id']}/test", expect=202))[1]["id"]
                 for _ in range(2)]
        await settled(api, ok["id"], 6)
        batches, pruned, after = 0, 0, 0
        while after is not None:
            n, after = await store.write(ops_webhooks.prune_deliveries, cutoff, after, 2)
            batches, pruned = batches + 1, pruned + n
        # [waiting, old1] [old2, old3] [old4, young1 -> stop]: the young tail is not read.
        assert (batches, pruned) == (3, 4)
        assert {d["id"] for d in await deliveries(api, ok["id"])} == set(young)
        assert [d["id"] for d in await deliveries(api, down["id"])] == [waiting["id"]]


async def test_a_callback_hook_goes_once_its_run_ended_and_all_is_delivered(settings):
    short = dataclasses.replace(settings, webhook_retention=0.3, webhook_timeout=2.0)
    with Receiver(fail_first=10**6) as receiver:  # /flaky refuses until told otherwise
        async with api_client(short) as api:
            watcher = await subscribe(api, receiver, "/ok", events=["run.completed"])
            run, hook = await quick_run_with_callback(api, receiver, "/flaky")
            # The watcher's copy of run.completed was delivered after the run ended: once
            # it is pruned, a pass has looked at the callback hook with the run ended for
            # longer than the retention, and kept it for its pending deliveries alone.
            await async_wait_until(_has(receiver, "run.completed", "/ok"),
                                   message="the watcher's copy")
            await async_wait_until(_none(deliveries, api, watcher["id"]),
                                   message="the watcher's copy pruned")
            assert [h["id"] for h in await run_hooks(api, run["id"])] == [hook["id"]]
            waiting = await deliveries(api, hook["id"], status="pending")
            last = next(d for d in waiting if d["type"] == "run.completed")
            receiver.fail_first = 0
            for d in waiting:
                await api.post(f"/api/v1/webhooks/{hook['id']}/deliveries/{d['id']}/redeliver",
                               expect=202)
            await async_wait_until(_none(run_hooks, api, run["id"]), message="the hook removed")
            assert "run.completed" in receiver.types("/flaky")
            await api.get(f"/api/v1/webhooks/{hook['id']}", expect=404)
            await api.get(f"/api/v1/deliveries/{last['id']}", expect=404)
            left = await api.app[keys.STORE].scalar(
                "SELECT COUNT(*) FROM deliveries WHERE webhook_id = ?", (hook["id"],))
            assert left == 0  # gone with the hook, not left behind unreachable


async def test_a_run_rolled_back_soon_after_it_ended_still_reports_to_its_callback(
        settings, receiver):
    short = dataclasses.replace(settings, webhook_retention=5.0, webhook_timeout=2.0)
    async with api_client(short) as api:
        run, hook = await quick_run_with_callback(api, receiver, "/ok")
        await settled(api, hook["id"], 3)
        await api.post(f"/api/v1/workflows/{run['id']}/rollback", json={"step": "a"},
                       expect=200)
        await api.wait_status(run["id"], "completed")
        await async_wait_until(_count(receiver, 2, "run.completed"), message="the rerun's end")
        assert "run.rolled_back" in receiver.types()
        assert [h["id"] for h in await run_hooks(api, run["id"])] == [hook["id"]]


async def quick_run_with_callback(api, receiver, path: str) -> tuple[dict, dict]:
    """A completed run of QUICK that posts to ``path``, and its callback_url hook."""
    await api.template(QUICK)
    _, run = await api.post("/api/v1/workflows", expect=201, json={
        "template": "quick", "callback_url": receiver.url(path)})
    receiver.secrets.append(run["callback_secret"])
    await api.wait_status(run["id"], "completed")
    [hook] = await run_hooks(api, run["id"])
    return run, hook


async def run_hooks(api, run_id) -> list[dict]:
    _, hooks = await api.get("/api/v1/webhooks", params={"run_id": run_id}, expect=200)
    return hooks["items"]


def _none(listing, *args):
    async def pred():
        return await listing(*args) == []
    return pred


def _has(receiver, type_, path=None):
    async def pred():
        return type_ in receiver.types(path)
    return pred


def _count(receiver, n, type_=None):
    async def pred():
        return len([h for h in receiver.delivered() if type_ in (None, h.payload["type"])]) >= n
    return pred


# ---- the policy at delivery time: names are resolved, and their addresses checked -------

class FakeDns:
    def __init__(self, *addresses: str) -> None:
        self.addresses = addresses

    async def resolve(self, host, port=0, family=0):
        return [{"hostname": host, "host": a, "port": port, "family": family, "proto": 0,
                 "flags": 0} for a in self.addresses]

    async def close(self):
        pass


@pytest.mark.parametrize("addresses", [("169.254.169.254",), ("93.184.216.34", "fe80::1")])
async def test_a_name_resolving_to_a_refused_address_is_refused(addresses):
    resolver = GuardedResolver(allow_private=True)
    resolver._inner = FakeDns(*addresses)
    with pytest.raises(RefusedDestination, match="resolves to"):
        await resolver.resolve("innocent.example", 80)


async def test_a_name_is_checked_on_the_addresses_the_connector_uses(fast, receiver):
    # localhost resolves for real to loopback, refused once private addresses are off.
    strict = dataclasses.replace(fast, webhook_allow_private=False)
    deliverer = Deliverer(None, strict)
    deliverer.session = http_session(strict)
    try:
        url = receiver.url().replace("127.0.0.1", "localhost")
        out = await deliverer.attempt(url, "whsec_" + "QUJD" * 8, "msg_x", "{}")
        assert out.permanent and "refused destination" in out.error and "private" in out.error
        assert receiver.hits == []
    finally:
        await deliverer.session.close()


async def test_an_unreachable_receiver_is_a_transient_failure(fast):
    deliverer = Deliverer(None, fast)
    deliverer.session = http_session(fast)
    try:
        out = await deliverer.attempt("http://127.0.0.1:9/", "whsec_" + "QUJD" * 8, "m", "{}")
        assert not out.ok and not out.permanent and out.code is None
        assert "cannot connect" in out.error
    finally:
        await deliverer.session.close()


async def test_failing_lists_deliveries_waiting_to_be_retried(settings, receiver):
    # A long first delay: after one failed attempt the delivery stays pending, retrying.
    slow = dataclasses.replace(settings, webhook_retry_base=600.0, webhook_timeout=2.0)
    async with api_client(slow) as api:
        down = await subscribe(api, receiver, "/down")
        up = await subscribe(api, receiver, "/ok")
        await api.post(f"/api/v1/webhooks/{up['id']}/test", expect=202)
        await settled(api, up["id"])
        _, msg = await api.post(f"/api/v1/webhooks/{down['id']}/test", expect=202)

        async def tried():
            [d] = await deliveries(api, down["id"])
            return d if d["attempts"] >= 1 else None
        retrying = await async_wait_until(tried, message="a first failed attempt")
        assert retrying["status"] == "pending" and retrying["last_error"].startswith("HTTP 503")
        assert retrying["next_attempt_at"] is not None
        [failing] = await deliveries(api, down["id"], failing="true")
        assert failing["id"] == msg["id"] and failing["next_attempt_at"]
        assert await deliveries(api, up["id"], failing="TRUE") == []
        assert len(await deliveries(api, up["id"], failing="no")) == 1
        status, err = await api.get(f"/api/v1/webhooks/{down['id']}/deliveries?failing=maybe")
        assert status == 422 and err["error"]["details"][0]["path"] == "failing"
