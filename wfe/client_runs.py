"""The client's calls about templates and runs: starting, listing and steering runs, their
event and log streams, approvals, callbacks, logs, snapshots and rollback.

A mixin of ``wfe.client.Client``; stdlib-only like it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from wfe import errors
from wfe.client_base import Json, Requests, is_uuid, json_text, seg

if TYPE_CHECKING:
    from wfe import sse

IDEMPOTENCY_KEY = re.compile(r"[ -~]{1,255}")  # what the daemon takes


class RunsMixin(Requests):
    # -- templates ---------------------------------------------------------------------

    def create_template(self, body: str | Json, content_type: str = "application/json") -> Json:
        return self.request("POST", "/api/v1/templates", body, content_type=content_type)

    def publish_template(self, template_id: str) -> Json:
        return self.request("POST", f"/api/v1/templates/{seg(template_id)}/publish")

    def delete_template(self, ref: str) -> Json:
        """A draft is deleted; a published version is archived."""
        return self.request("DELETE", f"/api/v1/templates/{seg(ref)}")

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
        return self.request("GET", f"/api/v1/templates/{seg(ref)}")

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
        return self.request("GET", f"/api/v1/workflows/{seg(run_id)}")

    def pause_run(self, run_id: str) -> Json:
        return self.request("POST", f"/api/v1/workflows/{seg(run_id)}/pause")

    def resume_run(self, run_id: str) -> Json:
        return self.request("POST", f"/api/v1/workflows/{seg(run_id)}/resume")

    def cancel_run(self, run_id: str, reason: str | None = None) -> Json:
        body = {"reason": reason} if reason else None
        return self.request("POST", f"/api/v1/workflows/{seg(run_id)}/cancel", body)

    def delete_run(self, run_id: str) -> Json:
        """An ended run and its sub-workflow runs, with their logs; 409 if one has not ended."""
        return self.request("DELETE", f"/api/v1/workflows/{seg(run_id)}")

    def retry_run(self, run_id: str) -> Json:
        return self.request("POST", f"/api/v1/workflows/{seg(run_id)}/retry")

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
        return self.open_stream(f"/api/v1/workflows/{seg(run_id)}/events/stream",
                                last_event_id=last_id)

    def events_stream(self, last_id: str | None = None) -> sse.Stream:
        return self.open_stream("/api/v1/events/stream", last_event_id=last_id)

    def log_stream(self, run_id: str, step: str, attempt: int | None = None,
                   last_id: str | None = None, item: int | None = None) -> sse.Stream:
        """A step's log (a foreach item's with ``item``) as it grows: one attempt, or every
        attempt from the latest on when ``attempt`` is None."""
        return self.open_stream(f"/api/v1/workflows/{seg(run_id)}/steps/{seg(step)}/log/stream",
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
        return self.request("POST", f"/api/v1/workflows/{seg(run_id)}/approvals/"
                                    f"{seg(approval_id)}/{verdict}", body)

    def send_callback(self, run_id: str, step: str, data: Any) -> Json:
        """Finish a callback step as the run's owner; ``data`` becomes its output."""
        return self.request("POST", f"/api/v1/workflows/{seg(run_id)}/steps/{seg(step)}"
                                    "/callback", json_text(data).encode())

    # -- history -----------------------------------------------------------------------

    def step_log(self, run_id: str, step: str, attempt: int | None = None,
                 item: int | None = None) -> bytes:
        _, raw = self.request_raw("GET", f"/api/v1/workflows/{seg(run_id)}/steps/"
                                         f"{seg(step)}/log",
                                  query={"attempt": attempt, "item": item},
                                  accept="text/plain")
        return raw

    def step_items(self, run_id: str, step: str, limit: int | None = None,
                   offset: int | None = None) -> Json:
        """A foreach step's items, in item order."""
        return self.request("GET", f"/api/v1/workflows/{seg(run_id)}/steps/{seg(step)}"
                                   "/items", query={"limit": limit, "offset": offset})

    def snapshots(self, run_id: str, limit: int | None = None,
                  offset: int | None = None) -> Json:
        return self.request("GET", f"/api/v1/workflows/{seg(run_id)}/snapshots",
                            query={"limit": limit, "offset": offset})

    def rollback(self, run_id: str, snapshot_id: str | None = None, step: str | None = None,
                 dry_run: bool = False) -> Json:
        body: Json = {"snapshot_id": snapshot_id} if snapshot_id else {"step": step}
        if dry_run:
            body["dry_run"] = True
        return self.request("POST", f"/api/v1/workflows/{seg(run_id)}/rollback", body)
