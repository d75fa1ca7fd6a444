"""The one client of the wfe HTTP API, shared by the CLI, the tests and scripts.

Synchronous and stdlib-only on purpose: every CLI invocation pays this module's import
time, so it must not pull in aiohttp, pydantic, rich or jinja2. Each method is named after
the action it asks for and returns the API's JSON (dicts); an error answer is raised as the
same ``WfeError`` subclass the daemon raised (see ``errors.from_wire``).

This module holds the transport; the endpoint methods live in mixins, one module per area
(``client_runs``: templates and runs; ``client_admin``: users, tokens, webhooks, schedules,
stored values, audit), so that no module outgrows the size the project keeps to.
"""

from __future__ import annotations

import http.client
import os
import socket
import ssl
from collections.abc import Mapping
from typing import Any, Self
from urllib.parse import urlencode, urlsplit

from wfe import client_tls, config, errors, sse
from wfe.client_admin import AdminMixin
from wfe.client_base import Json, decode, encode, is_uuid
from wfe.client_runs import IDEMPOTENCY_KEY, RunsMixin

__all__ = ["IDEMPOTENCY_KEY", "NOT_RUNNING", "Client", "Json", "Transport", "is_uuid",
           "resolve_token", "resolve_url"]

NOT_RUNNING = "the wfe daemon is not running; start it with: wfe daemon start"


def resolve_url(env: Mapping[str, str] | None = None) -> str | None:
    """The daemon's URL: ``WFE_URL``, else the one the local daemon wrote in daemon.json."""
    env = os.environ if env is None else env
    if env.get("WFE_URL"):
        return env["WFE_URL"].rstrip("/")
    info = config.read_daemon_json(config.paths(dict(env)))
    url = info.get("url") if isinstance(info, dict) else None
    return str(url).rstrip("/") if url else None


def resolve_token(env: Mapping[str, str] | None = None) -> str | None:
    """The caller's token: ``WFE_TOKEN``, else the local admin token the daemon wrote."""
    env = os.environ if env is None else env
    if env.get("WFE_TOKEN"):
        return env["WFE_TOKEN"].strip()
    try:
        return config.paths(dict(env)).token_file.read_text().strip() or None
    except OSError:
        return None


class Transport:
    """The connection to one daemon: URL, token, timeout, and the HTTP exchange itself."""

    def __init__(self, url: str, token: str | None = None, timeout: float = 30) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise errors.UsageError(f"not a daemon URL: {url!r}")
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self._parts = parts
        self._env: Mapping[str, str] | None = None  # set when the URL came from daemon.json
        self._trust_env: Mapping[str, str] = os.environ  # where WFE_CA_CERT is read
        self._tls: ssl.SSLContext | None = None  # made at the first HTTPS connection

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, timeout: float = 30) -> Self:
        url = resolve_url(env)
        if url is None:
            raise errors.DaemonUnreachable(NOT_RUNNING)
        client = cls(url, resolve_token(env), timeout)
        client._trust_env = os.environ if env is None else env
        if not client._trust_env.get("WFE_URL"):
            client._env = dict(client._trust_env)
        return client

    def rediscover(self) -> bool:
        """After losing the local daemon: find it again (a restart may have moved its port).
        True when its URL changed."""
        if self._env is None:
            return False
        url = resolve_url(self._env)
        if not url or url == self.url:
            return False
        self.url, self._parts = url.rstrip("/"), urlsplit(url)
        self._tls = None  # another daemon, maybe with another certificate
        return True

    # -- transport ---------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        query: Mapping[str, Any] | None = None,
        content_type: str = "application/json",
        headers: Mapping[str, str] | None = None,
    ) -> Json:
        """One HTTP exchange; the parsed JSON answer, or the daemon's error raised."""
        status, raw = self.request_raw(method, path, body, query=query,
                                       content_type=content_type, headers=headers)
        parsed = decode(raw)
        if not isinstance(parsed, dict):
            # Not the daemon's JSON: a stray server on the port, or a proxy page.
            raise errors.InternalError(f"unexpected answer from {self.url} (HTTP {status})")
        return parsed

    def request_raw(self, method: str, path: str, body: Any = None, *,
                    query: Mapping[str, Any] | None = None,
                    content_type: str = "application/json",
                    accept: str = "application/json",
                    headers: Mapping[str, str] | None = None) -> tuple[int, bytes]:
        """One HTTP exchange; the status and the raw body of a success (errors raised)."""
        data = encode(body, content_type)
        sent = {**self._headers(accept), **(headers or {})}
        if data is not None:
            sent["Content-Type"] = content_type
        status, raw = self._exchange(method, self._target(path, query), data, sent)
        if status >= 400:
            raise self._error(status, decode(raw))
        return status, raw

    def open_stream(self, path: str, query: Mapping[str, Any] | None = None,
                    last_event_id: str | None = None) -> sse.Stream:
        """A Server-Sent Events stream, open; iterate it for events."""
        headers = self._headers("text/event-stream")
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        conn = self._connection(sse.IDLE)
        try:
            conn.request("GET", self._target(path, query), headers=headers)
            sock = conn.sock
            resp = conn.getresponse()
        except (OSError, http.client.HTTPException) as e:
            conn.close()
            if self.rediscover():  # the daemon came back elsewhere: follow it there
                return self.open_stream(path, query, last_event_id)
            raise self._unreachable(e) from e
        if resp.status >= 400:
            raw = resp.read()
            conn.close()
            raise self._error(resp.status, decode(raw))
        return sse.Stream(conn, sock, resp)

    def _target(self, path: str, query: Mapping[str, Any] | None) -> str:
        target = self._parts.path.rstrip("/") + path
        params = {k: v for k, v in (query or {}).items() if v is not None}
        return target + ("?" + urlencode(params) if params else "")

    def _headers(self, accept: str) -> dict[str, str]:
        headers = {"Accept": accept}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def _connection(self, timeout: float) -> http.client.HTTPConnection:
        host = self._parts.hostname
        assert host is not None  # __init__ checked it; daemon.json always names one
        if self._parts.scheme != "https":
            return http.client.HTTPConnection(host, self._parts.port, timeout=timeout)
        if self._tls is None:
            self._tls = client_tls.context_for(self.url, self._trust_env)
        return http.client.HTTPSConnection(host, self._parts.port, timeout=timeout,
                                           context=self._tls)

    def _exchange(self, method: str, target: str, data: bytes | None, headers: dict):
        conn = self._connection(self.timeout)
        try:
            conn.request(method, target, body=data, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.read()
        except (OSError, http.client.HTTPException) as e:
            raise self._unreachable(e) from e
        finally:
            conn.close()

    def _unreachable(self, e: Exception) -> errors.DaemonUnreachable:
        if isinstance(e, TimeoutError):
            return errors.DaemonUnreachable(
                f"the wfe daemon at {self.url} did not answer within {self.timeout:g}s")
        if not isinstance(e, (ConnectionRefusedError, FileNotFoundError, socket.gaierror)):
            why = client_tls.hint(e, self._parts.scheme) or e
            return errors.DaemonUnreachable(f"cannot talk to the wfe daemon at {self.url}: {why}")
        why = "connection refused" if isinstance(e, ConnectionRefusedError) else (
            str(e.strerror or e).lower())
        # The URL named is the one tried: a WFE_URL left over from another shell is the
        # usual surprise, and its fix is not starting the local daemon.
        hint = ("start one with 'wfe daemon start' or check WFE_URL" if self._env is None
                else "start it with: wfe daemon start")
        return errors.DaemonUnreachable(f"no daemon answered at {self.url}/ ({why}); {hint}")

    def _error(self, status: int, parsed: Any) -> errors.WfeError:
        err = errors.from_wire(status, parsed)
        if isinstance(err, errors.Unauthorized) and not self.token:
            # The daemon's message cannot know why the client sent nothing; say it here.
            err.message += " (no token: set WFE_TOKEN, or start the daemon once to create one)"
            err.args = (err.message,)
        return err


class Client(Transport, RunsMixin, AdminMixin):
    """The API client: the transport with every endpoint's method (see the mixins)."""
