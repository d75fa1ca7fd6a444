"""Which certificates the client trusts when it talks to a daemon over HTTPS.

Verification is never turned off. ``WFE_CA_CERT`` names a PEM file of the certificates to
trust instead of the system's (like curl's ``--cacert``): the way to reach a daemon with a
self-signed certificate. Without it the system's are trusted, and for the local daemon
(the URL its daemon.json names) also the certificate that daemon says it serves: the file
came from the same private directory as the URL and the token, so it is no weaker a
trust, and ``wfe daemon start`` with TLS works without further setup.

Stdlib only, like ``wfe.client``.
"""

from __future__ import annotations

import contextlib
import http.client
import ssl
from collections.abc import Mapping

from wfe import config, errors

CA_ENV = "WFE_CA_CERT"
NAME_MISMATCH = (62, 64)  # OpenSSL's X509_V_ERR_HOSTNAME_MISMATCH, _IP_ADDRESS_MISMATCH


def context_for(url: str, env: Mapping[str, str]) -> ssl.SSLContext:
    """A verifying TLS context (hostname checked, TLS 1.2 at least) for the daemon at url."""
    ca = env.get(CA_ENV)
    if ca:
        try:
            return ssl.create_default_context(cafile=ca)
        except (OSError, ssl.SSLError) as e:
            why = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
            raise errors.UsageError(f"{CA_ENV}: cannot use {ca} as CA certificates ({why})"
                                    ) from None
    ctx = ssl.create_default_context()
    own = _local_daemon_cert(url, env)
    if own:
        # Unreadable: the usual verification error follows, naming WFE_CA_CERT as the fix.
        with contextlib.suppress(OSError, ssl.SSLError):
            ctx.load_verify_locations(own)
    return ctx


def _local_daemon_cert(url: str, env: Mapping[str, str]) -> str | None:
    info = config.read_daemon_json(config.paths(dict(env)))
    if not isinstance(info, dict) or str(info.get("url", "")).rstrip("/") != url.rstrip("/"):
        return None
    cert = info.get("tls_cert")
    return cert if isinstance(cert, str) and cert else None


def hint(e: Exception, scheme: str) -> str | None:
    """What to do about a failed exchange that TLS explains (None for other errors)."""
    if isinstance(e, http.client.RemoteDisconnected) and scheme == "http":
        # What a daemon serving HTTPS does with a request in plain HTTP.
        return f"{e} (if it serves HTTPS, use an https:// URL)"
    if not isinstance(e, ssl.SSLCertVerificationError):
        return None
    if e.verify_code in NAME_MISMATCH:
        fix = "reach it by a name the certificate holds (WFE_URL)"
    else:
        fix = f"to trust a certificate of your own, set {CA_ENV} to its PEM file"
    return f"its certificate is not trusted ({e.verify_message or e}); {fix}"
