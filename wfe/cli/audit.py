"""``wfe audit verify [RUN]``: check the audit log's hash chain."""

from __future__ import annotations

import typer

from wfe import errors
from wfe.cli import client, render, resolve_run
from wfe.cli.completion import complete_run

app = typer.Typer(help="The audit log: append-only, hash-chained events.", no_args_is_help=True)


@app.command()
def verify(
    run_ref: str | None = typer.Argument(
        None, metavar="[RUN]", autocompletion=complete_run,
        help="One run: its id, a unique prefix of 4+ characters, or @last"
             " (default: every run of yours)."),
    as_json: bool = typer.Option(False, "--json", help="Print the API's JSON."),
) -> None:
    """Recompute every event's hash; report the first bad event. Exit 1 when one is bad.

    Deleted runs are listed with the head hash recorded when they were deleted; a run
    gone without such a record, or only half deleted, is a failure."""
    c = client()
    run_id = resolve_run(c, run_ref) if run_ref else None
    payload = c.verify_audit(run_id)
    if as_json:
        render.json_out(payload)
    elif run_id:
        good_deleted = payload["ok"] and payload.get("deleted")
        render.out(_deleted_line(payload["deleted"]) if good_deleted else _line(payload))
    else:
        for report in payload["failures"]:
            render.out(_line(report))
        deleted = payload.get("deleted") or []
        for record in deleted:
            render.out(_deleted_line(record))
        verdict = "ok" if payload["ok"] else f"{len(payload['failures'])} broken"
        gone = f", {len(deleted)} deleted runs on record" if deleted else ""
        render.out(f"{payload['runs']} runs, {payload['events']} events{gone}: {verdict}")
    if not payload["ok"]:
        raise typer.Exit(errors.EXIT_FAILED)


def _deleted_line(record: dict) -> str:
    tpl = record.get("template") or {}
    return (f"{record['run_id']}: deleted by {record['deleted_by']} at {record['deleted_at']}"
            f" ({tpl.get('name')}@{tpl.get('version')}), {record['events']} events,"
            f" head {record['head']}")


def _line(report: dict) -> str:
    bad = report["first_bad"]
    if bad is None:
        return f"{report['run_id']}: ok, {report['events']} events, head {report['head']}"
    return f"{report['run_id']}: BAD at event {bad['seq']}: {bad['reason']}"
