"""Where the daemon listens and who may reach it: the ``listen``, ``tls_cert``, ``tls_key``,
``insecure_http`` and ``allowed_hosts`` settings, checked once at load and read by the
server (its address, its TLS context) and by the Host check in ``wfe.daemon.hardening``.

Stdlib only and cheap to import: ``wfe.config`` imports it, and every CLI call imports that.
``ssl`` is imported only when a daemon with TLS starts.
"""

from __future__ import annotations

import functools
import ipaddress
import os
import re
from typing import TYPE_CHECKING

from wfe.errors import InvalidSettings

if TYPE_CHECKING:
    import ssl

    from wfe.config import Settings

DNS_NAME = re.compile(r"[a-z0-9_]([a-z0-9_.-]*[a-z0-9_])?")


def split_host(host: str) -> tuple[str, int | None]:
    """``name:port`` (or ``[v6]:port``) as (name, port); a bad port reads as -1."""
    if host.startswith("["):
        name, _, rest = host[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else None
    else:
        name, sep, port = host.rpartition(":")
        if not sep:
            name, port = host, None
    if port is None:
        return name.lower(), None
    return name.lower(), int(port) if port.isdigit() else -1


def _ip(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(address)
    except ValueError:
        return None


def is_loopback(address: str) -> bool:
    """127.0.0.0/8, ::1 or localhost. A name that merely resolves to loopback does not
    count: what it resolves to can change after the check."""
    ip = _ip(address)
    return address.lower() == "localhost" if ip is None else ip.is_loopback


def url_host(listen: str) -> str:
    """The host part of the daemon's own URL (daemon.json, callback URLs). A wildcard
    (0.0.0.0, ::) is no address to connect to: the same machine reaches it on loopback."""
    ip = _ip(listen)
    if ip is None:
        return listen
    if ip.is_unspecified:
        ip = ipaddress.ip_address("::1" if ip.version == 6 else "127.0.0.1")
    return f"[{ip}]" if ip.version == 6 else str(ip)


def check_listen(s: Settings) -> None:
    """A daemon reachable from the network speaks TLS, unless told in so many words not to:
    its bearer tokens would otherwise cross the network in clear text."""
    if not s.listen.strip():
        raise InvalidSettings("listen must name an address to listen on, such as 127.0.0.1")
    if bool(s.tls_cert) != bool(s.tls_key):
        raise InvalidSettings("tls_cert and tls_key go together: set both (PEM files) or neither")
    if not is_loopback(s.listen) and not s.tls_cert and not s.insecure_http:
        raise InvalidSettings(
            f"listen = {s.listen!r} is not a loopback address: set tls_cert and tls_key to serve"
            " HTTPS, or insecure_http = true to serve plain HTTP to the network")


def host_names(value) -> tuple[str, ...]:
    """``allowed_hosts``: a list in config.toml, ``"a,b"`` in WFE_ALLOWED_HOSTS. Each entry is
    a host name or IP address, with an optional ``:port``."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise ValueError("allowed_hosts must be a list of host names")
    names = tuple(str(n).strip().lower() for n in items if str(n).strip())
    bad = [n for n in names if _host_entry(n) is None]
    if bad:
        raise ValueError(f"allowed_hosts: not a host name (with an optional :port): "
                         f"{', '.join(bad)}")
    return names


def _host_entry(text: str) -> tuple[str, int | None] | None:
    if text.count(":") > 1 and not text.startswith("["):
        text = f"[{text}]"  # a bare IPv6 address: it has no port
    name, port = split_host(text)
    if port is not None and not 0 < port < 65536:
        return None
    ip = _ip(name)
    if ip is None and (":" in name or not DNS_NAME.fullmatch(name)):
        return None
    return (name if ip is None else str(ip)), port


@functools.lru_cache(maxsize=8)
def named_hosts(s: Settings) -> frozenset[tuple[str, int | None]]:
    """The Host names accepted besides loopback ones: ``allowed_hosts``, and the address
    listened on when that is not loopback. A wildcard is not added: nobody names 0.0.0.0
    in a URL meant for another machine, so people list the names they do use."""
    found = {_host_entry(n) for n in s.allowed_hosts}
    ip = _ip(s.listen)
    if not is_loopback(s.listen) and not (ip is not None and ip.is_unspecified):
        found.add((s.listen.lower() if ip is None else str(ip), None))
    return frozenset(e for e in found if e is not None)


def host_allowed(s: Settings, name: str, port: int | None) -> bool:
    """Whether a request's Host is one of ``named_hosts``. An entry without a port takes
    any: behind a proxy or a port mapping the Host names the port the client used, not
    ours, and a DNS-rebinding page cannot make a browser send a name it does not own."""
    ip = _ip(name)
    name = str(ip) if ip is not None else name
    named = named_hosts(s)
    return (name, None) in named or (port is not None and (name, port) in named)


# ---- TLS --------------------------------------------------------------------------------

class _EncryptedKey(Exception):
    pass


def _no_password() -> bytes:
    # Without a callback OpenSSL would prompt on the terminal, and a daemon has none.
    raise _EncryptedKey


def server_tls(s: Settings) -> ssl.SSLContext | None:
    """The daemon's TLS context (TLS 1.2 at least), or None for plain HTTP. Each problem
    with the files is one InvalidSettings line naming the file, never a traceback."""
    if not s.tls_cert:
        return None
    import ssl

    for what, file in (("tls_cert", s.tls_cert), ("tls_key", s.tls_key)):
        try:
            with open(file, "rb"):
                pass
        except OSError as e:
            raise InvalidSettings(f"{what}: cannot read {file}: {e.strerror or e}") from None
    if os.stat(s.tls_key).st_mode & 0o004:
        raise InvalidSettings(f"tls_key: {s.tls_key} is readable by every user; make it private"
                              " (chmod o-rwx) and, if it may have been copied, replace it")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(s.tls_cert, s.tls_key, password=_no_password)
    except _EncryptedKey:
        raise InvalidSettings(f"tls_key: {s.tls_key} is encrypted; the daemon needs the key"
                              " unencrypted (keep it private instead)") from None
    except ssl.SSLError as e:
        raise InvalidSettings(
            f"tls_cert, tls_key: {s.tls_cert} and {s.tls_key} are not a PEM certificate and"
            f" its private key ({e.reason or e})") from None
    return ctx
