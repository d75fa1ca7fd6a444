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
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from wfe import config, errors

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

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, timeout: float = 30) -> Client:
        url = resolve_url(env)
        if url is None:
            raise errors.DaemonUnreachable(NOT_RUNNING)
        return cls(url, resolve_token(env), timeout)

    # -- transport ---------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        query: Mapping[str, Any] | None = None,
        content_type: str = "application/json",
    ) -> Json:
        """One HTTP exchange; the parsed JSON answer, or the daemon's error raised."""
        target = self._parts.path.rstrip("/") + path
        params = {k: v for k, v in (query or {}).items() if v is not None}
        if params:
            target += "?" + urlencode(params)
        data = _encode(body, content_type)
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = content_type
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        status, raw = self._exchange(method, target, data, headers)
        parsed = _decode(raw)
        if status >= 400:
            raise self._error(status, parsed)
        if not isinstance(parsed, dict):
            # Not the daemon's JSON: a stray server on the port, or a proxy page.
            raise errors.InternalError(f"unexpected answer from {self.url} (HTTP {status})")
        return parsed

    def _exchange(self, method: str, target: str, data: bytes | None, headers: dict):
        https = self._parts.scheme == "https"
        conn_cls = http.client.HTTPSConnection if https else http.client.HTTPConnection
        conn = conn_cls(self._parts.hostname, self._parts.port, timeout=self.timeout)
        try:
            conn.request(method, target, body=data, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.read()
        except (ConnectionRefusedError, FileNotFoundError) as e:
            raise errors.DaemonUnreachable(NOT_RUNNING) from e
        except TimeoutError as e:
            raise errors.DaemonUnreachable(
                f"the wfe daemon at {self.url} did not answer within {self.timeout:g}s"
            ) from e
        except (OSError, http.client.HTTPException) as e:
            message = f"cannot talk to the wfe daemon at {self.url}: {e}"
            raise errors.DaemonUnreachable(message) from e
        finally:
            conn.close()

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

    def create_user(self, name: str, is_admin: bool = False) -> Json:
        return self.request("POST", "/api/v1/users", {"name": name, "is_admin": is_admin})

    # -- templates ---------------------------------------------------------------------

    def create_template(self, body: str | Json, content_type: str = "application/json") -> Json:
        return self.request("POST", "/api/v1/templates", body, content_type=content_type)

    def publish_template(self, template_id: str) -> Json:
        return self.request("POST", f"/api/v1/templates/{_seg(template_id)}/publish")

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
    ) -> Json:
        """``template`` is a template id, a NAME (latest published) or NAME@VERSION."""
        body: Json = {"template_id": template} if is_uuid(template) else {"template": template}
        body["input"] = input or {}
        if trigger_type:
            body["trigger_type"] = trigger_type
        if callback_url:
            body["callback_url"] = callback_url
        return self.request("POST", "/api/v1/workflows", body)

    def list_runs(
        self, status: str | None = None, limit: int | None = None, offset: int | None = None
    ) -> Json:
        query = {"status": status, "limit": limit, "offset": offset}
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

    def retry_run(self, run_id: str) -> Json:
        return self.request("POST", f"/api/v1/workflows/{_seg(run_id)}/retry")

    # -- webhooks ----------------------------------------------------------------------

    def create_webhook(self, url: str, events: list[str] | None = None,
                       secret: str | None = None) -> Json:
        """The answer holds the signing secret; it is never shown again."""
        body: Json = {"url": url, "events": events or ["*"]}
        if secret:
            body["secret"] = secret
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
                        limit: int | None = None, offset: int | None = None) -> Json:
        query = {"status": status, "limit": limit, "offset": offset}
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
    return json.dumps(body).encode()


def _decode(raw: bytes) -> Any:
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        return None
