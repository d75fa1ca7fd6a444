"""The one client of the wfe HTTP API, shared by the CLI, the tests and scripts.

Synchronous and stdlib-only on purpose: every CLI invocation pays this module's import
time, so it must not pull in aiohttp, pydantic, rich or jinja2. Each method is named after
the action it asks for and returns the API's JSON (dicts); an error answer is raised as the
same ``WfeError`` subclass the daemon raised (see ``errors.from_wire``).
"""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from wfe import config, errors, sse

IDEMPOTENCY_KEY = re.compile(r"[ -~]{1,255}")  # what the daemon takes
NOT_RUNNING = "the wfe daemon is not running; start it with: wfe daemon start"

Json = dict[str, Any]


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


class Client:
    def __init__(self, url: str, token: str | None = None, timeout: float = 30) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise errors.UsageError(f"not a daemon URL: {url!r}")
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self._parts = parts
        self._env: Mapping[str, str] | None = None  # set when the URL came from daemon.json

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, timeout: float = 30) -> Client:
        url = resolve_url(env)
        if url is None:
            raise errors.DaemonUnreachable(NOT_RUNNING)
        client = cls(url, resolve_token(env), timeout)
        if not (os.environ if env is None else env).get("WFE_URL"):
            client._env = dict(os.environ if env is None else env)
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
        parsed = _decode(raw)
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
        data = _encode(body, content_type)
        sent = {**self._headers(accept), **(headers or {})}
        if data is not None:
            sent["Content-Type"] = content_type
        status, raw = self._exchange(method, self._target(path, query), data, sent)
        if status >= 400:
            raise self._error(status, _decode(raw))
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
            raise self._error(resp.status, _decode(raw))
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
        https = self._parts.scheme == "https"
        conn_cls = http.client.HTTPSConnection if https else http.client.HTTPConnection
        host = self._parts.hostname
        assert host is not None  # __init__ checked it; daemon.json always names one
        return conn_cls(host, self._parts.port, timeout=timeout)

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
            return errors.DaemonUnreachable(f"cannot talk to the wfe daemon at {self.url}: {e}")
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

    # -- health and users --------------------------------------------------------------

    def health(self) -> Json:
        return self.request("GET", "/api/v1/health")

    def me(self) -> Json:
        return self.request("GET", "/api/v1/me")

    def create_user(self, name: str, role: str | None = None) -> Json:
        """``role`` is admin, author or operator (the daemon's default: operator)."""
        body = {"name": name} if role is None else {"name": name, "role": role}
        return self.request("POST", "/api/v1/users", body)

    def list_users(self, limit: int | None = None, offset: int | None = None) -> Json:
        return self.request("GET", "/api/v1/users", query={"limit": limit, "offset": offset})

    def get_user(self, ref: str) -> Json:
        """``ref`` is a user's id or name."""
        return self.request("GET", f"/api/v1/users/{_seg(ref)}")

    def update_user(self, ref: str, role: str) -> Json:
        return self.request("PATCH", f"/api/v1/users/{_seg(ref)}", {"role": role})

    def delete_user(self, ref: str) -> Json:
        return self.request("DELETE", f"/api/v1/users/{_seg(ref)}")

    # -- templates ---------------------------------------------------------------------

    def create_template(self, body: str | Json, content_type: str = "application/json") -> Json:
        return self.request("POST", "/api/v1/templates", body, content_type=content_type)

    def publish_template(self, template_id: str) -> Json:
        return self.request("POST", f"/api/v1/templates/{_seg(template_id)}/publish")

    def delete_template(self, ref: str) -> Json:
        """A draft is deleted; a published version is archived."""
        return self.request("DELETE", f"/api/v1/templates/{_seg(ref)}")

    def list_templates(
        self,
        name: str | None = None,
        status: str | None = None,
        limit: int | None = None,
        offset: int | None = None,
    ) -> Json:
        query = {"name": name, "status": status, "limit": limit, "offset": offset}
        return self.request("GET", "/api/v1/templates", query=query)

    def get_template(self, ref: str) -> Json:
        """``ref`` is an id, a NAME (its latest version) or NAME@VERSION."""
        return self.request("GET", f"/api/v1/templates/{_seg(ref)}")

    # -- runs --------------------------------------------------------------------------

    def start_run(
        self,
        template: str,
        input: Json | None = None,
        trigger_type: str | None = None,
        callback_url: str | None = None,
        idempotency_key: str | None = None,
    ) -> Json:
        """``template`` is a template id, a NAME (latest published) or NAME@VERSION.

        With ``idempotency_key``, sending the same request again (say after a timeout)
        answers the run the first one started instead of starting another."""
        body: Json = {"template_id": template} if is_uuid(template) else {"template": template}
        body["input"] = input or {}
        if trigger_type:
            body["trigger_type"] = trigger_type
        if callback_url:
            body["callback_url"] = callback_url
        headers = None
        if idempotency_key is not None:
            if not IDEMPOTENCY_KEY.fullmatch(idempotency_key):  # else http.client raises
                raise errors.UsageError("an idempotency key is 1 to 255 printable ASCII"
                                        " characters")
            headers = {"Idempotency-Key": idempotency_key}
        return self.request("POST", "/api/v1/workflows", body, headers=headers)

    def list_runs(self, status: str | None = None, limit: int | None = None,
                  offset: int | None = None, before: str | None = None,
                  template: str | None = None, since: str | None = None,
                  schedule: str | None = None) -> Json:
        query = {"status": status, "limit": limit, "offset": offset, "before": before,
                 "template": template, "since": since, "schedule": schedule}
        return self.request("GET", "/api/v1/workflows", query=query)

    def get_run(self, run_id: str) -> Json:
        return self.request("GET", f"/api/v1/workflows/{_seg(run_id)}")

    def pause_run(self, run_id: str) -> Json:
        return self.request("POST", f"/api/v1/workflows/{_seg(run_id)}/pause")

    def resume_run(self, run_id: str) -> Json:
        return self.request("POST", f"/api/v1/workflows/{_seg(run_id)}/resume")

    def cancel_run(self, run_id: str, reason: str | None = None) -> Json:
        body = {"reason": reason} if reason else None
        return self.request("POST", f"/api/v1/workflows/{_seg(run_id)}/cancel", body)

    def delete_run(self, run_id: str) -> Json:
        """An ended run and its sub-workflow runs, with their logs; 409 if one has not ended."""
        return self.request("DELETE", f"/api/v1/workflows/{_seg(run_id)}")

    def retry_run(self, run_id: str) -> Json:
        return self.request("POST", f"/api/v1/workflows/{_seg(run_id)}/retry")

    def find_runs(self, prefix: str, limit: int = 20) -> list[Json]:
        """The caller's runs whose id starts with ``prefix`` (at most ``limit``)."""
        prefix = prefix.lower()
        try:
            page = self.request("GET", "/api/v1/workflows",
                                query={"id_prefix": prefix, "limit": limit})
            return [r for r in page["items"] if r["id"].startswith(prefix)]
        except errors.ValidationFailed:
            pass  # a daemon without id_prefix: look through every run, a page at a time
        found: list[Json] = []
        offset = 0
        while len(found) < limit:
            page = self.list_runs(limit=500, offset=offset)
            found += [r for r in page["items"] if r["id"].startswith(prefix)]
            offset += len(page["items"])
            if not page["items"] or offset >= page["total"]:
                break
        return found[:limit]

    # -- streams -----------------------------------------------------------------------

    def run_events_stream(self, run_id: str, last_id: str | None = None) -> sse.Stream:
        return self.open_stream(f"/api/v1/workflows/{_seg(run_id)}/events/stream",
                                last_event_id=last_id)

    def events_stream(self, last_id: str | None = None) -> sse.Stream:
        return self.open_stream("/api/v1/events/stream", last_event_id=last_id)

    def log_stream(self, run_id: str, step: str, attempt: int | None = None,
                   last_id: str | None = None, item: int | None = None) -> sse.Stream:
        """A step's log (a foreach item's with ``item``) as it grows: one attempt, or every
        attempt from the latest on when ``attempt`` is None."""
        return self.open_stream(f"/api/v1/workflows/{_seg(run_id)}/steps/{_seg(step)}/log/stream",
                                {"attempt": attempt, "item": item}, last_event_id=last_id)

    # -- approvals ---------------------------------------------------------------------

    def list_approvals(self, status: str | None = "pending", limit: int | None = None,
                       offset: int | None = None) -> Json:
        query = {"status": status, "limit": limit, "offset": offset}
        return self.request("GET", "/api/v1/approvals", query=query)

    def decide(self, run_id: str, approval_id: str, verdict: str,
               comment: str | None = None) -> Json:
        """``verdict`` is approve or reject; the answer is the run."""
        body = {"comment": comment} if comment else None
        return self.request("POST", f"/api/v1/workflows/{_seg(run_id)}/approvals/"
                                    f"{_seg(approval_id)}/{verdict}", body)

    def send_callback(self, run_id: str, step: str, data: Any) -> Json:
        """Finish a callback step as the run's owner; ``data`` becomes its output."""
        return self.request("POST", f"/api/v1/workflows/{_seg(run_id)}/steps/{_seg(step)}"
                                    "/callback", _json_text(data).encode())

    # -- history -----------------------------------------------------------------------

    def step_log(self, run_id: str, step: str, attempt: int | None = None,
                 item: int | None = None) -> bytes:
        _, raw = self.request_raw("GET", f"/api/v1/workflows/{_seg(run_id)}/steps/"
                                         f"{_seg(step)}/log",
                                  query={"attempt": attempt, "item": item},
                                  accept="text/plain")
        return raw

    def step_items(self, run_id: str, step: str, limit: int | None = None,
                   offset: int | None = None) -> Json:
        """A foreach step's items, in item order."""
        return self.request("GET", f"/api/v1/workflows/{_seg(run_id)}/steps/{_seg(step)}"
                                   "/items", query={"limit": limit, "offset": offset})

    def snapshots(self, run_id: str, limit: int | None = None,
                  offset: int | None = None) -> Json:
        return self.request("GET", f"/api/v1/workflows/{_seg(run_id)}/snapshots",
                            query={"limit": limit, "offset": offset})

    def rollback(self, run_id: str, snapshot_id: str | None = None, step: str | None = None,
                 dry_run: bool = False) -> Json:
        body: Json = {"snapshot_id": snapshot_id} if snapshot_id else {"step": step}
        if dry_run:
            body["dry_run"] = True
        return self.request("POST", f"/api/v1/workflows/{_seg(run_id)}/rollback", body)

    # -- stored secrets and variables (kind: "secrets" or "vars") -----------------------

    def set_stored(self, kind: str, name: str, value: str, is_global: bool = False) -> Json:
        """Set a secret or variable; a secret's answer never holds its value."""
        return self.request("PUT", f"/api/v1/{kind}/{_seg(name)}",
                            {"value": value, "global": is_global})

    def list_stored(self, kind: str, limit: int | None = None,
                    offset: int | None = None) -> Json:
        return self.request("GET", f"/api/v1/{kind}", query={"limit": limit, "offset": offset})

    def remove_stored(self, kind: str, name: str, is_global: bool = False) -> Json:
        query = {"global": "true"} if is_global else None
        return self.request("DELETE", f"/api/v1/{kind}/{_seg(name)}", query=query)

    # -- schedules ---------------------------------------------------------------------

    def create_schedule(self, body: Json) -> Json:
        return self.request("POST", "/api/v1/schedules", body)

    def list_schedules(self, limit: int | None = None, offset: int | None = None) -> Json:
        return self.request("GET", "/api/v1/schedules", query={"limit": limit, "offset": offset})

    def get_schedule(self, schedule_id: str) -> Json:
        return self.request("GET", f"/api/v1/schedules/{_seg(schedule_id)}")

    def update_schedule(self, schedule_id: str, body: Json) -> Json:
        return self.request("PATCH", f"/api/v1/schedules/{_seg(schedule_id)}", body)

    def schedule_action(self, schedule_id: str, verb: str) -> Json:
        """pause, resume or trigger (which answers the run it started)."""
        return self.request("POST", f"/api/v1/schedules/{_seg(schedule_id)}/{verb}")

    def delete_schedule(self, schedule_id: str) -> Json:
        return self.request("DELETE", f"/api/v1/schedules/{_seg(schedule_id)}")

    # -- webhooks ----------------------------------------------------------------------

    def create_webhook(self, url: str, events: list[str] | None = None,
                       secret: str | None = None, secret_header: Json | None = None) -> Json:
        """The answer holds the signing secret; it is never shown again. ``secret_header``:
        ``{name, secret, prefix}``, a header whose value is a stored secret's."""
        body: Json = {"url": url, "events": events or ["*"]}
        if secret:
            body["secret"] = secret
        if secret_header:
            body["secret_header"] = secret_header
        return self.request("POST", "/api/v1/webhooks", body)

    def list_webhooks(self, run_id: str | None = None, limit: int | None = None,
                      offset: int | None = None) -> Json:
        query = {"run_id": run_id, "limit": limit, "offset": offset}
        return self.request("GET", "/api/v1/webhooks", query=query)

    def get_webhook(self, webhook_id: str) -> Json:
        return self.request("GET", f"/api/v1/webhooks/{_seg(webhook_id)}")

    def delete_webhook(self, webhook_id: str) -> Json:
        return self.request("DELETE", f"/api/v1/webhooks/{_seg(webhook_id)}")

    def list_deliveries(self, webhook_id: str, status: str | None = None,
                        limit: int | None = None, offset: int | None = None,
                        failing: bool = False) -> Json:
        query = {"status": status, "limit": limit, "offset": offset,
                 "failing": "true" if failing else None}
        return self.request("GET", f"/api/v1/webhooks/{_seg(webhook_id)}/deliveries",
                            query=query)

    def get_delivery(self, delivery_id: str) -> Json:
        return self.request("GET", f"/api/v1/deliveries/{_seg(delivery_id)}")

    def redeliver(self, delivery_id: str, webhook_id: str | None = None) -> Json:
        """Without ``webhook_id``, the delivery is looked up first to find its webhook."""
        webhook_id = webhook_id or self.get_delivery(delivery_id)["webhook_id"]
        return self.request("POST", f"/api/v1/webhooks/{_seg(webhook_id)}/deliveries/"
                                    f"{_seg(delivery_id)}/redeliver")

    def send_test(self, webhook_id: str) -> Json:
        return self.request("POST", f"/api/v1/webhooks/{_seg(webhook_id)}/test")

    # -- tokens and the audit log -----------------------------------------------------

    def create_token(self, name: str | None = None) -> Json:
        """The answer holds the new token; it is never shown again."""
        return self.request("POST", "/api/v1/tokens", {"name": name or ""})

    def list_tokens(self, limit: int | None = None, offset: int | None = None) -> Json:
        return self.request("GET", "/api/v1/tokens", query={"limit": limit, "offset": offset})

    def revoke_token(self, token_id: str) -> Json:
        return self.request("POST", f"/api/v1/tokens/{_seg(token_id)}/revoke")

    def verify_audit(self, run_id: str | None = None) -> Json:
        """One run's report, or (no run) a summary over every run of the caller."""
        if run_id is None:
            return self.request("GET", "/api/v1/audit")
        return self.request("GET", f"/api/v1/workflows/{_seg(run_id)}/audit")


def _seg(value: str) -> str:
    # An id from the user goes into the path: keep it one segment whatever it contains.
    return quote(str(value), safe="@")


def is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _encode(body: Any, content_type: str) -> bytes | None:
    if body is None:
        return None
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    if content_type != "application/json":
        raise TypeError("only JSON bodies can be given as objects")
    return _json_text(body).encode()


def _json_text(value: Any) -> str:
    try:
        return json.dumps(value, allow_nan=False)
    except ValueError:  # the daemon would refuse it (422); say so before sending
        raise errors.UsageError("NaN and Infinity are not JSON numbers") from None


def _decode(raw: bytes) -> Any:
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        return None
