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
    """Recompute every event's hash; report the first bad event. Exit 1 when one is bad."""
    c = client()
    run_id = resolve_run(c, run_ref) if run_ref else None
    payload = c.verify_audit(run_id)
    if as_json:
        render.json_out(payload)
    else:
        reports = [payload] if run_id else payload["failures"]
        for report in reports:
            render.out(_line(report))
        if not run_id:
            verdict = "ok" if payload["ok"] else f"{len(payload['failures'])} broken"
            render.out(f"{payload['runs']} runs, {payload['events']} events: {verdict}")
    if not payload["ok"]:
        raise typer.Exit(errors.EXIT_FAILED)


def _line(report: dict) -> str:
    bad = report["first_bad"]
    if bad is None:
        return f"{report['run_id']}: ok, {report['events']} events, head {report['head']}"
    return f"{report['run_id']}: BAD at event {bad['seq']}: {bad['reason']}"
