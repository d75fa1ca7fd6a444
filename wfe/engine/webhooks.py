"""Outbound webhooks, the pure part: retry schedule, Standard Webhooks signatures, and the
destination policy. The daemon's delivery loop does the I/O (DNS, HTTP, SQLite).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import re
import secrets
from urllib.parse import urlsplit

# Standard Webhooks' reference schedule (Svix): after the first attempt, retry after 5 s,
# 5 min, 30 min, 2 h, 5 h, 10 h and 10 h (about 27.6 hours in all), then give up.
RETRY_DELAYS = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)
MAX_ATTEMPTS = 1 + len(RETRY_DELAYS)
JITTER = 0.2

SECRET_PREFIX = "whsec_"  # noqa: S105 -- a public marker, not a secret
SECRET_BYTES = (24, 64)
PATTERN = re.compile(r"^[A-Za-z0-9_.*?\[\]!-]{1,100}$")

# Names and addresses of cloud instance-metadata services: a webhook that reached one
# would hand the machine's cloud credentials to whoever registered it.
METADATA_HOSTS = frozenset({
    "metadata", "metadata.google.internal", "metadata.goog", "instance-data",
    "instance-data.ec2.internal", "metadata.azure.internal", "metadata.tencentyun.com",
})
METADATA_IPS = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254", "169.254.170.2", "169.254.169.253", "fd00:ec2::254", "fd00:ec2::23",
    "100.100.100.200", "192.0.0.192",
))
NAT64 = ipaddress.ip_network("64:ff9b::/96")
SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT; not in is_private
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def retry_delay(failed: int, base: float = 5.0, rand: float = 0.5) -> float | None:
    """Seconds to wait after the ``failed``-th failed attempt; None once the schedule is spent.

    ``base`` is the first retry's delay (5 s); later delays keep their ratio to it, so tests
    shrink the whole schedule with one setting. ``rand`` (0..1) spreads each delay by ±20%
    so that many deliveries failing together do not retry in lockstep.
    """
    if failed < 1 or failed > len(RETRY_DELAYS):
        return None
    delay = RETRY_DELAYS[failed - 1] * base / RETRY_DELAYS[0]
    return delay * (1 - JITTER + 2 * JITTER * rand)


# ---- secrets and signatures -------------------------------------------------------------

def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_<base64>`` secret; ValueError when it is not one."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError(f"a secret starts with {SECRET_PREFIX}")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX):], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("a secret is whsec_ followed by base64") from None
    low, high = SECRET_BYTES
    if not low <= len(key) <= high:
        raise ValueError(f"a secret's key is {low} to {high} bytes (base64-encoded)")
    return key


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256 of "id.timestamp.body">`` (Standard Webhooks)."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    mac = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def signed_headers(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, msg_id, timestamp, body),
    }


# ---- a header from a stored secret ------------------------------------------------------

# RFC 9110 5.6.2: a field name is a token.
HEADER_NAME = r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$"
# Framing, routing and the signature are wfe's to set: a subscription that replaced them
# could break the request or forge what the receiver verifies.
RESERVED_HEADERS = frozenset({
    "host", "content-length", "content-type", "content-encoding", "transfer-encoding",
    "connection", "keep-alive", "upgrade", "te", "trailer", "expect", "user-agent",
    "webhook-id", "webhook-timestamp", "webhook-signature",
})
RESERVED_PREFIXES = ("proxy-", "webhook-", "sec-")


def refused_header_name(name: str) -> str | None:
    """Why ``name`` may not carry a stored secret, or None when it may."""
    if not re.fullmatch(HEADER_NAME, name):
        return "a header name is 1 to 100 of the characters RFC 9110 allows in a token"
    low = name.lower()
    if low in RESERVED_HEADERS or low.startswith(RESERVED_PREFIXES):
        return f"{name} is set by wfe itself"
    return None


def refused_header_value(value: str) -> str | None:
    """Why ``value`` cannot be sent as a header value (CR, LF, NUL or another control
    character would split or corrupt the request), or None."""
    if any((ord(c) < 0x20 and c != "\t") or ord(c) == 0x7F for c in value):
        return "it holds a control character (CR, LF, NUL...)"
    return None


# ---- destinations -----------------------------------------------------------------------

def refused_address(ip: IPAddress, allow_private: bool = True) -> str | None:
    """Why the daemon will not connect to ``ip``, or None when it may."""
    ip = _embedded_v4(ip)
    if ip in METADATA_IPS:
        return f"{ip} is a cloud metadata address"
    if ip.is_link_local:
        return f"{ip} is a link-local address"
    # ::1 is inside IPv6's reserved ::/8, so loopback is decided before reserved.
    if ip.is_unspecified or ip.is_multicast or (ip.is_reserved and not ip.is_loopback):
        return f"{ip} is not a unicast address"
    if not allow_private and (ip.is_loopback or ip.is_private or ip in SHARED):
        return f"{ip} is a loopback or private address (webhook_allow_private is off)"
    return None


def _embedded_v4(ip: IPAddress) -> IPAddress:
    """The IPv4 address inside an IPv4-mapped or NAT64 IPv6 address: it is where we'd go."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip in NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def refused_url(url: str, allow_private: bool = True) -> str | None:
    """Why ``url`` may not be a webhook destination, or None. Names are checked again,
    resolved, at each delivery (see the daemon's resolver)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError as exc:
        return f"not a valid URL: {exc}"
    if parts.scheme not in ("http", "https"):
        return "the URL must be http:// or https://"
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        return "the URL has no host"
    if host in METADATA_HOSTS:
        return f"{host} is a cloud metadata host"
    ip = ip_literal(host)
    return refused_address(ip, allow_private) if ip is not None else None


def ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None


def valid_pattern(pattern: str) -> bool:
    return bool(PATTERN.match(pattern))
