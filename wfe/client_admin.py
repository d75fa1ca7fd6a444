"""The client's administrative calls: health, users, stored secrets and variables,
schedules, webhooks and their deliveries, tokens and the audit log.

A mixin of ``wfe.client.Client``; stdlib-only like it.
"""

from __future__ import annotations

from wfe.client_base import Json, Requests, seg


class AdminMixin(Requests):
    # -- health and users --------------------------------------------------------------

    def health(self) -> Json:
        return self.request("GET", "/api/v1/health")

    def me(self) -> Json:
        return self.request("GET", "/api/v1/me")

    def cluster(self) -> Json:
        return self.request("GET", "/api/v1/cluster")

    def create_user(self, name: str, role: str | None = None) -> Json:
        """``role`` is admin, author or operator (the daemon's default: operator)."""
        body = {"name": name} if role is None else {"name": name, "role": role}
        return self.request("POST", "/api/v1/users", body)

    def list_users(self, limit: int | None = None, offset: int | None = None) -> Json:
        return self.request("GET", "/api/v1/users", query={"limit": limit, "offset": offset})

    def get_user(self, ref: str) -> Json:
        """``ref`` is a user's id or name."""
        return self.request("GET", f"/api/v1/users/{seg(ref)}")

    def update_user(self, ref: str, role: str) -> Json:
        return self.request("PATCH", f"/api/v1/users/{seg(ref)}", {"role": role})

    def delete_user(self, ref: str) -> Json:
        return self.request("DELETE", f"/api/v1/users/{seg(ref)}")


    # -- stored secrets and variables (kind: "secrets" or "vars") -----------------------

    def set_stored(self, kind: str, name: str, value: str, is_global: bool = False) -> Json:
        """Set a secret or variable; a secret's answer never holds its value."""
        return self.request("PUT", f"/api/v1/{kind}/{seg(name)}",
                            {"value": value, "global": is_global})

    def list_stored(self, kind: str, limit: int | None = None,
                    offset: int | None = None) -> Json:
        return self.request("GET", f"/api/v1/{kind}", query={"limit": limit, "offset": offset})

    def remove_stored(self, kind: str, name: str, is_global: bool = False) -> Json:
        query = {"global": "true"} if is_global else None
        return self.request("DELETE", f"/api/v1/{kind}/{seg(name)}", query=query)

    # -- schedules ---------------------------------------------------------------------

    def create_schedule(self, body: Json) -> Json:
        return self.request("POST", "/api/v1/schedules", body)

    def list_schedules(self, limit: int | None = None, offset: int | None = None) -> Json:
        return self.request("GET", "/api/v1/schedules", query={"limit": limit, "offset": offset})

    def get_schedule(self, schedule_id: str) -> Json:
        return self.request("GET", f"/api/v1/schedules/{seg(schedule_id)}")

    def update_schedule(self, schedule_id: str, body: Json) -> Json:
        return self.request("PATCH", f"/api/v1/schedules/{seg(schedule_id)}", body)

    def schedule_action(self, schedule_id: str, verb: str) -> Json:
        """pause, resume or trigger (which answers the run it started)."""
        return self.request("POST", f"/api/v1/schedules/{seg(schedule_id)}/{verb}")

    def delete_schedule(self, schedule_id: str) -> Json:
        return self.request("DELETE", f"/api/v1/schedules/{seg(schedule_id)}")

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
        return self.request("GET", f"/api/v1/webhooks/{seg(webhook_id)}")

    def delete_webhook(self, webhook_id: str) -> Json:
        return self.request("DELETE", f"/api/v1/webhooks/{seg(webhook_id)}")

    def list_deliveries(self, webhook_id: str, status: str | None = None,
                        limit: int | None = None, offset: int | None = None,
                        failing: bool = False) -> Json:
        query = {"status": status, "limit": limit, "offset": offset,
                 "failing": "true" if failing else None}
        return self.request("GET", f"/api/v1/webhooks/{seg(webhook_id)}/deliveries",
                            query=query)

    def get_delivery(self, delivery_id: str) -> Json:
        return self.request("GET", f"/api/v1/deliveries/{seg(delivery_id)}")

    def redeliver(self, delivery_id: str, webhook_id: str | None = None) -> Json:
        """Without ``webhook_id``, the delivery is looked up first to find its webhook."""
        webhook_id = webhook_id or self.get_delivery(delivery_id)["webhook_id"]
        return self.request("POST", f"/api/v1/webhooks/{seg(webhook_id)}/deliveries/"
                                    f"{seg(delivery_id)}/redeliver")

    def send_test(self, webhook_id: str) -> Json:
        return self.request("POST", f"/api/v1/webhooks/{seg(webhook_id)}/test")

    # -- tokens and the audit log -----------------------------------------------------

    def create_token(self, name: str | None = None) -> Json:
        """The answer holds the new token; it is never shown again."""
        return self.request("POST", "/api/v1/tokens", {"name": name or ""})

    def create_ui_code(self) -> Json:
        """A one-time sign-in link for the web UI (``url``), valid for a short while."""
        return self.request("POST", "/api/v1/ui/codes")

    def list_tokens(self, limit: int | None = None, offset: int | None = None) -> Json:
        return self.request("GET", "/api/v1/tokens", query={"limit": limit, "offset": offset})

    def revoke_token(self, token_id: str) -> Json:
        return self.request("POST", f"/api/v1/tokens/{seg(token_id)}/revoke")

    def verify_audit(self, run_id: str | None = None) -> Json:
        """One run's report, or (no run) a summary over every run of the caller."""
        if run_id is None:
            return self.request("GET", "/api/v1/audit")
        return self.request("GET", f"/api/v1/workflows/{seg(run_id)}/audit")
