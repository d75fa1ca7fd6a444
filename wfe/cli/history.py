"""A run's history and what it waits for: ``wfe snapshots``, ``wfe rollback`` and
``wfe callback``."""

from __future__ import annotations

import json

import typer

from wfe import errors
from wfe.cli import client, read_text, render, resolve_run
from wfe.cli.completion import complete_run
from wfe.cli.output import Output, field_opt, output_opt
from wfe.client import is_uuid

RUN_HELP = "The run: its id, a unique prefix of 4+ characters, or @last."


def register(app: typer.Typer) -> None:
    app.command("snapshots")(snapshots)
    app.command("rollback")(rollback)
    app.command("callback")(callback)


def snapshots(
    run_ref: str = typer.Argument(..., metavar="RUN", help=RUN_HELP,
                                  autocompletion=complete_run),
    limit: int | None = typer.Option(None, "--limit", min=1, help="At most this many."),
    offset: int | None = typer.Option(None, "--offset", min=0, help="Skip this many."),
    as_json: bool = typer.Option(False, "--json", help="Print the API's JSON."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Only print the snapshots' ids."),
    output: str | None = output_opt(),
    field: str | None = field_opt(),
) -> None:
    """A run's snapshots: its state after each step, oldest first."""
    how = Output.of(as_json, quiet, output, field)
    c = client()
    render.emit(c.snapshots(resolve_run(c, run_ref), limit, offset), how, render.snapshots)


def rollback(
    run_ref: str = typer.Argument(..., metavar="RUN", help=RUN_HELP,
                                  autocompletion=complete_run),
    to: str = typer.Option(..., "--to", metavar="SNAPSHOT_ID|STEP",
                           help="A snapshot id, or the step whose snapshot to return to."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only say which steps would run again."),
    as_json: bool = typer.Option(False, "--json", help="Print the API's JSON."),
) -> None:
    """Return a failed, cancelled, paused or completed run to a snapshot; the steps after it
    run again."""
    c = client()
    run_id = resolve_run(c, run_ref)
    snapshot, step = (to, None) if is_uuid(to) else (None, to)
    result = c.rollback(run_id, snapshot, step, dry_run)
    if as_json:
        render.json_out(result)
    else:
        render.rollback(result)


def callback(
    run_ref: str = typer.Argument(..., metavar="RUN", help=RUN_HELP,
                                  autocompletion=complete_run),
    step: str = typer.Argument(..., metavar="STEP", help="The callback step."),
    data: str = typer.Option("{}", "--data", metavar="JSON|@FILE",
                             help='What the step gets: JSON, or @FILE (@- for stdin). '
                                  '{"status": "failure", "error": "..."} fails it.'),
    as_json: bool = typer.Option(False, "--json", help="Print the API's JSON."),
) -> None:
    """Report back to a callback step as the run's owner (as an external system would)."""
    text = read_text(data[1:]) if data.startswith("@") else data
    try:
        payload = json.loads(text)
    except ValueError as e:
        raise errors.UsageError(f"--data is not JSON: {e}") from None
    c = client()
    answer = c.send_callback(resolve_run(c, run_ref), step, payload)
    if as_json:
        render.json_out(answer)
    else:
        render.note("accepted" + ("" if answer.get("consumed") else
                                  "; kept until the run reaches the step"))
