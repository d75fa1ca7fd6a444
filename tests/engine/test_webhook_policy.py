"""The pure part of webhooks: retry schedule, signatures, and the destination policy."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook

from wfe.engine.webhooks import (
    MAX_ATTEMPTS,
    new_secret,
    refused_address,
    refused_url,
    retry_delay,
    secret_key,
    signed_headers,
    valid_pattern,
)


@pytest.mark.parametrize("failed, delay", [
    (1, 5), (2, 300), (3, 1800), (4, 7200), (5, 18000), (6, 36000), (7, 36000),
    (8, None), (0, None),
])
def test_schedule(failed, delay):
    assert retry_delay(failed) == delay


def test_schedule_is_about_a_day_and_eight_attempts():
    total = sum(retry_delay(n) for n in range(1, MAX_ATTEMPTS))
    assert MAX_ATTEMPTS == 8 and 24 * 3600 <= total <= 30 * 3600


@pytest.mark.parametrize("rand, factor", [(0.0, 0.8), (0.5, 1.0), (1.0, 1.2)])
def test_jitter_spreads_each_delay_by_a_fifth(rand, factor):
    assert retry_delay(2, rand=rand) == pytest.approx(300 * factor)


def test_base_shrinks_the_whole_schedule_keeping_ratios():
    assert retry_delay(1, base=0.01) == pytest.approx(0.01)
    assert retry_delay(3, base=0.01) == pytest.approx(1800 * 0.01 / 5)


def test_a_new_secret_is_standard_and_32_bytes():
    s = new_secret()
    assert s.startswith("whsec_") and len(secret_key(s)) == 32
    assert new_secret() != s


@pytest.mark.parametrize("bad", ["", "abc", "whsec_", "whsec_%%%", "whsec_c2hvcnQ=",
                                 "whsec_" + base64.b64encode(b"x" * 65).decode()])
def test_malformed_secrets_are_refused(bad):
    with pytest.raises(ValueError):
        secret_key(bad)


def test_signature_verifies_with_the_reference_implementation():
    secret, body = new_secret(), b'{"id":"msg_1","type":"run.created","data":{}}'
    ts = int(datetime.now(UTC).timestamp())
    headers = signed_headers(secret, "msg_1", ts, body)
    assert Webhook(secret).verify(body, headers) == {"id": "msg_1", "type": "run.created",
                                                     "data": {}}
    assert headers["webhook-id"] == "msg_1" and headers["webhook-timestamp"] == str(ts)


def test_signature_is_hmac_sha256_of_id_timestamp_body():
    key = b"k" * 24
    secret = "whsec_" + base64.b64encode(key).decode()
    mac = hmac.new(key, b"msg_2.1700000000.{}", hashlib.sha256).digest()
    headers = signed_headers(secret, "msg_2", 1700000000, b"{}")
    assert headers["webhook-signature"] == "v1," + base64.b64encode(mac).decode()


@pytest.mark.parametrize("addr, refused", [
    ("169.254.169.254", "metadata"), ("169.254.170.2", "metadata"),
    ("fd00:ec2::254", "metadata"), ("100.100.100.200", "metadata"),
    ("169.254.1.1", "link-local"), ("fe80::1", "link-local"),
    ("::ffff:169.254.169.254", "metadata"), ("64:ff9b::a9fe:a9fe", "metadata"),
    ("0.0.0.0", "unicast"), ("::", "unicast"), ("224.0.0.1", "unicast"),
    ("255.255.255.255", "unicast"),
    ("127.0.0.1", None), ("::1", None), ("10.0.0.1", None), ("192.168.1.2", None),
    ("fd12::1", None), ("100.64.0.1", None), ("8.8.8.8", None), ("2606:4700::1111", None),
])
def test_addresses(addr, refused):
    reason = refused_address(ipaddress.ip_address(addr))
    assert (reason is None) == (refused is None), reason
    if refused:
        assert refused in reason


@pytest.mark.parametrize("addr", ["127.0.0.1", "::1", "10.0.0.1", "172.16.0.1", "192.168.0.1",
                                  "fd12::1", "100.64.0.1", "::ffff:127.0.0.1"])
def test_private_addresses_can_be_refused(addr):
    assert "private" in refused_address(ipaddress.ip_address(addr), allow_private=False)
    assert refused_address(ipaddress.ip_address("8.8.8.8"), allow_private=False) is None


@pytest.mark.parametrize("url, refused", [
    ("http://localhost:8080/hook", None), ("https://example.com/h?x=1", None),
    ("http://[::1]:9/x", None), ("https://user:pw@example.com/", None),
    ("ftp://example.com/", "http"), ("file:///etc/passwd", "http"), ("javascript:x", "http"),
    ("http:///nohost", "no host"), ("http://example.com:99999/", "valid"),
    ("http://METADATA.google.internal./", "metadata"), ("http://metadata/", "metadata"),
    ("http://169.254.169.254/latest", "metadata"), ("http://[fe80::1%25eth0]/", "link-local"),
])
def test_urls(url, refused):
    reason = refused_url(url)
    assert (reason is None) == (refused is None), reason
    if refused:
        assert refused in reason


@pytest.mark.parametrize("pattern, ok", [
    ("*", True), ("run.*", True), ("approval.requested", True), ("step.[fs]*", True),
    ("", False), ("run *", False), ("a" * 101, False), ("run/x", False),
])
def test_patterns(pattern, ok):
    assert valid_pattern(pattern) is ok


@pytest.mark.parametrize("raw, value", [("0", False), ("false", False), ("no", False),
                                        ("1", True), ("true", True), ("on", True)])
def test_the_private_flag_reads_as_a_word_from_the_environment(tmp_path, raw, value):
    from wfe.config import Settings, paths

    p = paths({"WFE_HOME": str(tmp_path)})
    s = Settings.load(p, env={"WFE_WEBHOOK_ALLOW_PRIVATE": raw, "WFE_WEBHOOK_RETRY_BASE": "0.5"})
    assert s.webhook_allow_private is value and s.webhook_retry_base == 0.5
