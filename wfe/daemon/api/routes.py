"""The route table: one place that lists every endpoint (the OpenAPI document reads it)."""

from __future__ import annotations

from aiohttp import web

from wfe.daemon.api import (
    approvals,
    audit,
    callbacks,
    cluster,
    history,
    logstream,
    openapi,
    runs,
    schedules,
    secrets,
    stream,
    system,
    templates,
    tokens,
    users,
    webhooks,
)
from wfe.daemon.ui import session as ui_session

ROUTES = [
    ("GET", "/api/v1/health", system.health),
    ("GET", "/api/v1/cluster", cluster.cluster),
    ("GET", "/api/v1/me", users.me),
    ("GET", "/api/v1/users", users.list_users),
    ("POST", "/api/v1/users", users.create_user),
    ("GET", "/api/v1/users/{id}", users.get_user),
    ("PATCH", "/api/v1/users/{id}", users.update_user),
    ("DELETE", "/api/v1/users/{id}", users.delete_user),
    ("POST", "/api/v1/templates", templates.create_template),
    ("GET", "/api/v1/templates", templates.list_templates),
    ("GET", "/api/v1/templates/{id}", templates.get_template),
    ("POST", "/api/v1/templates/{id}/publish", templates.publish_template),
    ("DELETE", "/api/v1/templates/{id}", templates.delete_template),
    ("POST", "/api/v1/workflows", runs.start_run),
    ("GET", "/api/v1/workflows", runs.list_runs),
    ("GET", "/api/v1/workflows/{id}", runs.get_run),
    ("DELETE", "/api/v1/workflows/{id}", runs.delete_run),
    ("POST", "/api/v1/workflows/{id}/pause", runs.pause_run),
    ("POST", "/api/v1/workflows/{id}/resume", runs.resume_run),
    ("POST", "/api/v1/workflows/{id}/cancel", runs.cancel_run),
    ("POST", "/api/v1/workflows/{id}/retry", runs.retry_run),
    ("POST", "/api/v1/workflows/{id}/approvals/{approval_id}/approve", approvals.approve),
    ("POST", "/api/v1/workflows/{id}/approvals/{approval_id}/reject", approvals.reject),
    ("GET", "/api/v1/approvals", approvals.inbox),
    ("GET", "/api/v1/workflows/{id}/snapshots", history.snapshots),
    ("POST", "/api/v1/workflows/{id}/rollback", history.rollback),
    ("GET", "/api/v1/workflows/{id}/steps/{step}/log", history.step_log),
    ("GET", "/api/v1/workflows/{id}/steps/{step}/items", history.step_items),
    ("POST", "/api/v1/callbacks/{token}", callbacks.by_token),
    ("POST", "/api/v1/workflows/{id}/steps/{step}/callback", callbacks.by_owner),
    ("POST", "/api/v1/schedules", schedules.create_schedule),
    ("GET", "/api/v1/schedules", schedules.list_schedules),
    ("GET", "/api/v1/schedules/{id}", schedules.get_schedule),
    ("PATCH", "/api/v1/schedules/{id}", schedules.update_schedule),
    ("DELETE", "/api/v1/schedules/{id}", schedules.delete_schedule),
    ("POST", "/api/v1/schedules/{id}/pause", schedules.pause_schedule),
    ("POST", "/api/v1/schedules/{id}/resume", schedules.resume_schedule),
    ("POST", "/api/v1/schedules/{id}/trigger", schedules.trigger_schedule),
    ("POST", "/api/v1/webhooks", webhooks.create_webhook),
    ("GET", "/api/v1/webhooks", webhooks.list_webhooks),
    ("GET", "/api/v1/webhooks/{id}", webhooks.get_webhook),
    ("DELETE", "/api/v1/webhooks/{id}", webhooks.delete_webhook),
    ("GET", "/api/v1/webhooks/{id}/deliveries", webhooks.list_deliveries),
    ("POST", "/api/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver", webhooks.redeliver),
    ("POST", "/api/v1/webhooks/{id}/test", webhooks.send_test),
    ("GET", "/api/v1/deliveries/{delivery_id}", webhooks.get_delivery),
    ("GET", "/api/v1/openapi.json", openapi.openapi),
    ("POST", "/api/v1/tokens", tokens.create_token),
    ("GET", "/api/v1/tokens", tokens.list_tokens),
    ("POST", "/api/v1/tokens/{id}/revoke", tokens.revoke_token),
    ("POST", "/api/v1/ui/codes", ui_session.create_ui_code),
    ("GET", "/api/v1/workflows/{id}/audit", audit.verify_run),
    ("GET", "/api/v1/audit", audit.verify_all),
    ("GET", "/api/v1/audit/events", secrets.global_events),
    ("POST", "/api/v1/secrets", secrets.create_secret),
    ("GET", "/api/v1/secrets", secrets.list_secrets),
    ("PUT", "/api/v1/secrets/{name}", secrets.put_secret),
    ("DELETE", "/api/v1/secrets/{name}", secrets.remove_secret),
    ("POST", "/api/v1/vars", secrets.create_var),
    ("GET", "/api/v1/vars", secrets.list_vars),
    ("PUT", "/api/v1/vars/{name}", secrets.put_var),
    ("DELETE", "/api/v1/vars/{name}", secrets.remove_var),
    ("GET", "/api/v1/workflows/{id}/events/stream", stream.run_events),
    ("GET", "/api/v1/events/stream", stream.all_events),
    ("GET", "/api/v1/workflows/{id}/steps/{step}/log/stream", logstream.step_log),
]


def setup(app: web.Application) -> None:
    for method, path, handler in ROUTES:
        if method == "GET":  # with HEAD: the same answer's headers, without its body
            app.router.add_get(path, handler, allow_head=True)
        else:
            app.router.add_route(method, path, handler)
