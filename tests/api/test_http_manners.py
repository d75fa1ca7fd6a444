"""HTTP manners an integrator expects: HEAD and OPTIONS, 405 with Allow, the Bearer
challenge, ids in either case, one value per parameter, no ignored bodies, wfe's own words
in errors, gzip for large JSON answers."""

from __future__ import annotations

import io

import pytest

from tests.support import api_client

V = "/api/v1"


PYDANTIC_WORDS = ("Input should", "Extra inputs", "Field required", "should be",
                  "should have", "Value error", "String should", "valid integer")


@pytest.mark.parametrize(("path", "body", "field", "message"), [
    (f"{V}/webhooks", {"url": 5}, "url", "must be a string"),
    (f"{V}/webhooks", {"url": "http://127.0.0.1:9/", "bogus": 1}, "bogus", "unknown field"),
    (f"{V}/webhooks", {}, "url", "required"),
    (f"{V}/webhooks", {"url": "http://127.0.0.1:9/", "events": []}, "events",
     "must have at least 1 item"),
    (f"{V}/tokens", {"name": 3}, "name", "must be a string"),
    (f"{V}/users", {"name": "bo", "role": "king"}, "role",
     "must be 'admin', 'author' or 'operator'"),
    (f"{V}/secrets", {"name": "S", "value": "v", "global": "yes"}, "global",
     "must be true or false"),
])
async def test_field_errors_are_in_wfes_words(settings, path, body, field, message):
    async with api_client(settings) as api:
        _, answer = await api.post(path, json=body, expect=422)
    details = answer["error"]["details"]
    assert {"path": field, "message": message} in details, details
    text = str(answer)
    assert not [w for w in PYDANTIC_WORDS if w in text], text


async def test_an_oversized_body_is_told_in_wfes_words(settings):
    async with api_client(settings) as api:
        big = io.BytesIO(b'{"url": "' + b"a" * (settings.max_body_bytes + 10) + b'"}')
        _, body = await api.post(f"{V}/webhooks", data=big,
                                 headers={"Content-Type": "application/json"}, expect=413)
    assert body["error"]["message"] == (
        f"the body is over the limit of {settings.max_body_bytes} bytes")
