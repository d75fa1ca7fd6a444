"""``wfe schedule ...``: start runs of a template on a cron expression or an interval."""

from __future__ import annotations

import typer

from wfe.cli import client, render
from wfe.cli.output import Output, field_opt, output_opt
from wfe.cli.runs import _variables, coerce, parse_pairs
from wfe.cli.verbs import command

app = typer.Typer(help="Start runs of a published template on a schedule.",
                  no_args_is_help=True)

JSON_HELP = "Print the API's JSON."
ID_HELP = "The schedule's id."


@command(app, "create", "add")
def create(
    template: str = typer.Argument(
        ..., metavar="TEMPLATE", help="NAME (the latest published at each fire) or NAME@VERSION."),
    cron: str | None = typer.Option(None, "--cron", help="5 fields, or @hourly, @daily, ..."),
    tz: str | None = typer.Option(None, "--tz", help="An IANA zone for --cron (default: the"
                                                     " daemon's)."),
    every: str | None = typer.Option(None, "--every", help="An interval instead: 30s, 5m, 1h."),
    offset: str | None = typer.Option(None, "--offset", help="With --every: shift the grid."),
    inputs: list[str] = typer.Option([], "-i", "--input", metavar="KEY=VALUE",
                                     help="An input variable; repeatable."),
    overlap: str = typer.Option("skip", "--overlap",
                                help="skip, allow, buffer_one or cancel_previous."),
    catchup: str = typer.Option("none", "--catchup", help="none, latest or all."),
    jitter: str | None = typer.Option(None, "--jitter", help="Spread fires over this long."),
    name: str | None = typer.Option(None, "--name", help="Default: the template's name."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Only print the schedule's id."),
) -> None:
    """Create a schedule."""
    c = client()
    data = coerce(parse_pairs(inputs), _variables(c, template)) if inputs else {}
    body = {"template": template, "input": data, "cron": cron, "tz": tz, "every": every,
            "offset": offset, "overlap": overlap, "catchup": catchup, "jitter": jitter,
            "name": name}
    sched = c.create_schedule({k: v for k, v in body.items() if v is not None})
    if quiet and not as_json:
        render.out(sched["id"])
    else:
        _show(sched, as_json)


@command(app, "ls")
def list_(
    limit: int | None = typer.Option(None, "--limit", min=1, help="At most this many."),
    offset: int | None = typer.Option(None, "--offset", min=0, help="Skip this many."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Only print the schedules' ids."),
    output: str | None = output_opt(),
    field: str | None = field_opt(),
) -> None:
    """List your schedules with their next and last fire."""
    how = Output.of(as_json, quiet, output, field)
    render.emit(client().list_schedules(limit, offset), how, render.schedules)


@command(app, "show")
def show(schedule_id: str = typer.Argument(..., metavar="ID", help=ID_HELP),
         as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
         output: str | None = output_opt(), field: str | None = field_opt()) -> None:
    """A schedule, with its latest skipped fires."""
    how = Output.of(as_json, False, output, field)
    render.emit(client().get_schedule(schedule_id), how, render.schedule)


def _act(verb: str, schedule_id: str, as_json: bool) -> None:
    _show(client().schedule_action(schedule_id, verb), as_json)


@app.command()
def pause(schedule_id: str = typer.Argument(..., metavar="ID", help=ID_HELP),
          as_json: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """Stop firing (a run going on is left alone)."""
    _act("pause", schedule_id, as_json)


@app.command()
def resume(schedule_id: str = typer.Argument(..., metavar="ID", help=ID_HELP),
           as_json: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """Fire again from the next time due; what came due while paused is skipped."""
    _act("resume", schedule_id, as_json)


@app.command()
def trigger(schedule_id: str = typer.Argument(..., metavar="ID", help=ID_HELP),
            as_json: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """Start a run of the schedule now."""
    run = client().schedule_action(schedule_id, "trigger")
    if as_json:
        render.json_out(run)
    else:
        render.out(run["id"])


@command(app, "rm")
def rm(schedule_id: str = typer.Argument(..., metavar="ID", help=ID_HELP),
       as_json: bool = typer.Option(False, "--json", help='Print {"deleted": ID}.')) -> None:
    """Delete a schedule; the runs it started stay."""
    client().delete_schedule(schedule_id)
    render.note(f"deleted schedule {schedule_id}")
    if as_json:
        render.json_out({"deleted": schedule_id})


def _show(sched: dict, as_json: bool) -> None:
    if as_json:
        render.json_out(sched)
    else:
        render.schedule(sched)
