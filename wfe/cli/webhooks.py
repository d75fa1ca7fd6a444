"""``wfe webhook ...``: subscribe URLs to events, and look after their deliveries."""

from __future__ import annotations

import time

import typer

from wfe import errors
from wfe.cli import client, render
from wfe.cli.output import Output, field_opt, output_opt
from wfe.cli.verbs import command

app = typer.Typer(help="Send run events to your URLs (signed per Standard Webhooks).",
                  no_args_is_help=True)

JSON_HELP = "Print the API's JSON."
ID_HELP = "The webhook's id."


@command(app, "create", "add")
def create(
    url: str = typer.Argument(..., help="Where to POST events: http:// or https://."),
    events: list[str] = typer.Option(
        [], "-e", "--event", metavar="PATTERN",
        help="An event type or pattern (run.*, approval.requested); repeatable. Default: *."),
    secret: str | None = typer.Option(None, "--secret", help="whsec_... (default: generated)."),
    secret_header: str | None = typer.Option(
        None, "--secret-header", metavar="HEADER=SECRET",
        help="Send this header with the value of your stored secret SECRET (read at each"
             " delivery; never stored with the webhook), e.g. X-Token=HOOK_TOKEN."),
    prefix: str = typer.Option("", "--secret-header-prefix", metavar="TEXT",
                               help='Put before the secret in the header, e.g. "Bearer ".'),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    quiet: bool = typer.Option(False, "-q", "--quiet",
                               help="Only print the webhook's id (not its secret)."),
) -> None:
    """Subscribe a URL to events; prints the signing secret, which is shown only this once."""
    header = _secret_header(secret_header, prefix)
    hook = client().create_webhook(url, events or None, secret, header)
    if as_json:
        render.json_out(hook)
        return
    if quiet:
        render.out(hook["id"])
        return
    _describe(hook)
    render.note("keep the secret: it is shown only this once (receivers verify with it)")


@command(app, "ls")
def list_(
    run_id: str | None = typer.Option(None, "--run", metavar="RUN",
                                      help="The callback_url webhook of this run instead."),
    limit: int | None = typer.Option(None, "--limit", min=1, help="At most this many."),
    offset: int | None = typer.Option(None, "--offset", min=0, help="Skip this many."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Only print the webhooks' ids."),
    output: str | None = output_opt(),
    field: str | None = field_opt(),
) -> None:
    """List your webhooks, newest first."""
    how = Output.of(as_json, quiet, output, field)
    payload = client().list_webhooks(run_id=run_id, limit=limit, offset=offset)
    render.emit(payload, how, render.webhooks)


@command(app, "show")
def show(
    webhook_id: str = typer.Argument(..., metavar="ID", help=ID_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    output: str | None = output_opt(),
    field: str | None = field_opt(),
) -> None:
    """A webhook: its URL and the events it gets (its secret is never shown again)."""
    how = Output.of(as_json, False, output, field)
    render.emit(client().get_webhook(webhook_id), how, _describe)


@command(app, "rm")
def rm(
    webhook_id: str = typer.Argument(..., metavar="ID", help=ID_HELP),
    as_json: bool = typer.Option(False, "--json", help='Print {"deleted": ID}.'),
) -> None:
    """Delete a webhook; its undelivered messages are dropped with it."""
    client().delete_webhook(webhook_id)
    render.note(f"deleted webhook {webhook_id}")
    if as_json:
        render.json_out({"deleted": webhook_id})


@app.command()
def deliveries(
    webhook_id: str = typer.Argument(..., metavar="ID", help=ID_HELP),
    failed: bool = typer.Option(
        False, "--failed", help="Only failing ones: given up on, or waiting to be retried."),
    status: str | None = typer.Option(None, "--status", help="pending, delivered or failed."),
    limit: int | None = typer.Option(None, "--limit", min=1, help="At most this many."),
    offset: int | None = typer.Option(None, "--offset", min=0, help="Skip this many."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Only print the deliveries' ids."),
    output: str | None = output_opt(),
    field: str | None = field_opt(),
) -> None:
    """A webhook's deliveries, newest first: status, attempts, last answer, next attempt."""
    how = Output.of(as_json, quiet, output, field)
    payload = client().list_deliveries(webhook_id, status, limit, offset, failing=failed)
    render.emit(payload, how, _deliveries)


def _deliveries(payload: dict) -> None:
    if not payload["items"]:
        render.note("no deliveries")
        return
    rows = [_delivery_row(d) for d in payload["items"]]
    render.table(["ID", "TYPE", "STATUS", "ATTEMPTS", "CODE", "NEXT", "CREATED", "LAST ERROR"],
                 rows, 2, drop=("CREATED", "NEXT", "CODE", "ATTEMPTS", "TYPE"),
                 elide="LAST ERROR")


@app.command()
def redeliver(
    delivery_id: str = typer.Argument(..., metavar="DELIVERY", help="The delivery's id (msg_...)."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Send a delivery again now, with the same webhook-id and a fresh retry schedule."""
    d = client().redeliver(delivery_id)
    if as_json:
        render.json_out(d)
    else:
        render.note(f"redelivering {d['id']} ({d['type']}) to webhook {d['webhook_id']}")


@app.command()
def test(
    webhook_id: str = typer.Argument(..., metavar="ID", help=ID_HELP),
    wait: float = typer.Option(15.0, "--wait", min=0, help="Seconds to wait for the outcome."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Send a webhook.test message and report what the receiver answered."""
    c = client()
    d = _first_attempt(c, c.send_test(webhook_id), wait)
    if as_json:
        render.json_out(d)
    elif d["status"] == "delivered":
        render.out(f"delivered {d['id']}: HTTP {d['last_status_code']}")
    if d["status"] != "delivered":
        why = d["last_error"] or f"no attempt within {wait:g}s"
        raise errors.WfeError(f"test delivery {d['id']} not delivered: {why}")


def _secret_header(option: str | None, prefix: str) -> dict | None:
    if option is None:
        if prefix:
            raise typer.BadParameter("needs --secret-header", param_hint="--secret-header-prefix")
        return None
    name, sep, secret = option.partition("=")
    if not sep or not name.strip() or not secret.strip():
        raise typer.BadParameter("HEADER=SECRET, e.g. X-Token=HOOK_TOKEN",
                                 param_hint="--secret-header")
    return {"name": name.strip(), "secret": secret.strip(), "prefix": prefix}


def _first_attempt(c, d: dict, wait: float) -> dict:
    deadline = time.monotonic() + wait
    while d["status"] == "pending" and d["attempts"] == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
        d = c.get_delivery(d["id"])
    return d


def _describe(hook: dict) -> None:
    for key in ("id", "url", "events", "secret"):
        value = hook.get(key)
        if value is None:  # the secret, but when just created
            continue
        render.out(f"{key:<7} {','.join(value) if isinstance(value, list) else value}")
    header = hook.get("secret_header")
    if header:
        render.out(f"header  {header['name']}: {header['prefix']}<secret {header['secret']}>")


def _delivery_row(d: dict) -> list[str]:
    code = d.get("last_status_code")
    return [d["id"], d["type"], d["status"], str(d["attempts"]), str(code) if code else "-",
            render.ago(d.get("next_attempt_at")), render.ago(d["created_at"]),
            render.compact(d.get("last_error") or "")]
