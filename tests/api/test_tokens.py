"""API tokens: their form, how they are stored, listing, and revocation that bites at once."""

from __future__ import annotations

import hashlib
import re

from tests.dbutil import query, stored_bytes
from tests.support import api_client

V = "/api/v1"
TOKEN = re.compile(r"^wfe_[A-Za-z0-9_-]{43}$")  # 43 base64url characters = 256 bits


def stored_hashes() -> set[str]:
    return {h for (h,) in query("SELECT hash FROM tokens")}


async def test_create_list_and_the_form_of_a_token(settings):
    async with api_client(settings) as api:
        _, a = await api.post(f"{V}/tokens", json={"name": "ci"}, expect=201)
        _, b = await api.post(f"{V}/tokens", expect=201)  # the body is optional
        assert TOKEN.match(a["token"]) and TOKEN.match(b["token"]) and a["token"] != b["token"]
        assert a["name"] == "ci" and b["name"] == "" and a["revoked_at"] is None
        # Only SHA-256 digests are kept; the token itself is nowhere in the database.
        assert hashlib.sha256(a["token"].encode()).hexdigest() in stored_hashes()
        stored = stored_bytes()
        assert hashlib.sha256(a["token"].encode()).hexdigest().encode() in stored  # searched
        assert a["token"].encode() not in stored and api.token.encode() not in stored
        _, listed = await api.get(f"{V}/tokens", expect=200)
        assert {t["id"] for t in listed["items"]} >= {a["id"], b["id"]}
        assert all("token" not in t and "hash" not in t for t in listed["items"])
        await api.get(f"{V}/me", token=a["token"], expect=200)
        status, err = await api.post(f"{V}/tokens", json={"name": "x" * 101})
        assert status == 422 and err["error"]["details"][0]["path"] == "name"


async def test_a_revoked_token_is_refused_at_once(settings):
    async with api_client(settings) as api:
        _, t = await api.post(f"{V}/tokens", json={"name": "temp"}, expect=201)
        await api.get(f"{V}/me", token=t["token"], expect=200)  # now cached by the daemon
        _, revoked = await api.post(f"{V}/tokens/{t['id']}/revoke", expect=200)
        assert revoked["revoked_at"] and revoked["id"] == t["id"]
        status, err = await api.get(f"{V}/me", token=t["token"])
        assert status == 401 and err["error"]["code"] == "unauthorized"
        _, again = await api.post(f"{V}/tokens/{t['id']}/revoke", expect=200)
        assert again["revoked_at"] == revoked["revoked_at"]  # idempotent
        _, listed = await api.get(f"{V}/tokens", expect=200)
        assert next(x for x in listed["items"] if x["id"] == t["id"])["revoked_at"]


async def test_revoking_the_token_in_use(settings):
    async with api_client(settings) as api:
        _, t = await api.post(f"{V}/tokens", expect=201)
        await api.post(f"{V}/tokens/{t['id']}/revoke", token=t["token"], expect=200)
        status, _ = await api.get(f"{V}/tokens", token=t["token"])
        assert status == 401
        await api.get(f"{V}/me", expect=200)  # the others still work


async def test_tokens_are_per_user(settings):
    async with api_client(settings) as api:
        _, mine = await api.post(f"{V}/tokens", expect=201)
        _, bob = await api.post(f"{V}/users", json={"name": "bob"}, expect=201)
        _, theirs = await api.get(f"{V}/tokens", token=bob["token"], expect=200)
        assert mine["id"] not in {t["id"] for t in theirs["items"]} and theirs["total"] == 1
        status, err = await api.post(f"{V}/tokens/{mine['id']}/revoke", token=bob["token"])
        assert status == 404 and err["error"]["code"] == "not_found"
        await api.get(f"{V}/me", token=mine["token"], expect=200)  # untouched
        for bad in ("not-a-uuid", "00000000-0000-4000-8000-000000000000"):
            status, _ = await api.post(f"{V}/tokens/{bad}/revoke")
            assert status == 404


async def test_the_lookup_compares_digests_in_constant_time(settings, monkeypatch):
    import hmac

    from wfe.daemon import app as app_module

    seen, real = [], hmac.compare_digest

    def spy(a, b):
        seen.append((a, b))
        return real(a, b)

    monkeypatch.setattr(app_module.hmac, "compare_digest", spy)
    async with api_client(settings) as api:
        await api.get(f"{V}/me", expect=200)
    digest = hashlib.sha256(api.token.encode()).hexdigest()
    assert (digest, digest) in seen
