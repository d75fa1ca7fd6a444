"""Runs as they go: ``wfe watch|wait|events|logs``. All of them follow the daemon's event
streams; none polls."""

from __future__ import annotations

import typer

from wfe import errors
from wfe.cli import client, follow, pipe, render, resolve_run
from wfe.cli.completion import complete_run, complete_step
from wfe.client import Client

RUN_HELP = "The run: its id, a unique prefix of 4+ characters, or @last."
JSON_HELP = "Print JSON (see the README for the shapes)."


def register(app: typer.Typer) -> None:
    for fn in (watch, wait, events, logs):
        app.command(fn.__name__)(fn)


def parse_timeout(text: str | None) -> float | None:
    if text is None:
        return None
    from wfe.engine.durations import parse_duration  # stdlib only: cheap

    try:
        return parse_duration(text)
    except ValueError as e:
        raise errors.UsageError(f"--timeout: {e}") from None


def show_live(c: Client, run_id: str, as_json: bool = False) -> None:
    """Watch a run to its end and exit with the code of its outcome."""
    pipe.exit_when_reader_leaves()
    if as_json:
        run = follow.wait(c, run_id)
        render.json_out(run)
    else:
        with render.WatchView() as view:
            run = follow.watch(c, run_id, view)
        render.finished(run)
    raise typer.Exit(follow.exit_code(run))


def watch(
    run_ref: str = typer.Argument(..., metavar="RUN", help=RUN_HELP,
                                 autocompletion=complete_run),
    as_json: bool = typer.Option(False, "--json", help="No view: print the final run."),
) -> None:
    """Watch a run live until it ends; exit with the code of its outcome."""
    c = client()
    show_live(c, resolve_run(c, run_ref), as_json)


def wait(
    run_ref: str = typer.Argument(..., metavar="RUN", help=RUN_HELP,
                                 autocompletion=complete_run),
    until: str = typer.Option("terminal", "--until",
                              help="terminal, or waiting_approval (or the run's end)."),
    timeout: str | None = typer.Option(None, "--timeout", metavar="D",
                                       help="Give up after this long (30s, 5m, 1h); exit 8."),
    as_json: bool = typer.Option(False, "--json", help="Print the run when it gets there."),
) -> None:
    """Wait until a run ends (or waits for an approval); exit with the code of its state."""
    if until not in follow.UNTIL:
        raise errors.UsageError(f"--until must be one of: {', '.join(follow.UNTIL)}")
    seconds = parse_timeout(timeout)
    c = client()
    run = follow.wait(c, resolve_run(c, run_ref), until, seconds)
    if as_json:
        render.json_out(run)
    else:
        render.run_action(run)
    if until == "waiting_approval" and run["status"] == "waiting_approval":
        raise typer.Exit(errors.EXIT_OK)  # what was asked for
    raise typer.Exit(follow.exit_code(run))


def events(
    run_ref: str | None = typer.Argument(None, metavar="RUN", autocompletion=complete_run,
                                         help=RUN_HELP + " Omitted: all your runs (with -f)."),
    follow_: bool = typer.Option(False, "-f", "--follow", help="Go on as events happen."),
    as_json: bool = typer.Option(False, "--json", help="JSON Lines: one event per line."),
) -> None:
    """A run's audit events; -f follows them live until the run ends."""
    if run_ref is None and not follow_:
        raise errors.UsageError("give a RUN, or -f to follow the events of all your runs")
    c = client()
    run_id = resolve_run(c, run_ref) if run_ref is not None else None
    if follow_:
        pipe.exit_when_reader_leaves()  # `wfe events -f | head -3` while nothing happens
    stream = follow.events(c, run_id, follow_)
    if as_json:
        for e in stream:
            render.json_line(e)
    elif follow_:
        for e in stream:
            render.event_line(e, all_runs=run_id is None)
            render.flush()
    else:
        render.events(list(stream))


def logs(
    run_ref: str = typer.Argument(..., metavar="RUN", help=RUN_HELP,
                                 autocompletion=complete_run),
    step: str | None = typer.Argument(None, metavar="STEP", help="One step (default: all).",
                                     autocompletion=complete_step),
    attempt: int | None = typer.Option(None, "--attempt", min=1,
                                       help="That attempt (default: the latest)."),
    follow_: bool = typer.Option(
        False, "-f", "--follow",
        help="Go on as the log grows, through retries, until the step is done."),
    as_json: bool = typer.Option(False, "--json",
                                 help="JSON Lines: {step, attempt, line} per line."),
    item: int | None = typer.Option(None, "--item", min=0,
                                    help="A foreach step's item (its index): that item's log."),
) -> None:
    """A step's log (every step's, in order, without STEP); -f follows it live."""
    c = client()
    run_id = resolve_run(c, run_ref)
    if step is None and (attempt is not None or item is not None):
        raise errors.UsageError("--attempt and --item need a STEP")
    if item is not None:
        assert step is not None  # checked above: --item needs a STEP
        if follow_:
            _follow_log(c, run_id, step, attempt, as_json, prefix=False, item=item)
        else:
            _print_item_log(c, run_id, step, item, attempt, as_json)
        return
    steps = {s["name"]: s for s in c.get_run(run_id)["steps"]}
    if step is not None and step not in steps:
        raise errors.NotFound(f"run {run_id} has no step {step!r}")
    if follow_:
        pipe.exit_when_reader_leaves()
    for name in [step] if step else list(steps):
        if follow_:
            _follow_log(c, run_id, name, attempt, as_json, prefix=step is None)
        else:
            number = attempt or steps[name].get("attempt") or None
            _print_log(c, run_id, name, number, as_json, header=step is None)


def _print_item_log(c: Client, run_id: str, step: str, item: int, attempt: int | None,
                    as_json: bool) -> None:
    text = c.step_log(run_id, step, attempt, item=item).decode("utf-8", "replace")
    if as_json:
        for line in text.splitlines():
            render.json_line({"step": step, "item": item, "attempt": attempt, "line": line})
        return
    render.text(text)


def _print_log(c: Client, run_id: str, step: str, attempt: int | None, as_json: bool,
               header: bool) -> None:
    try:
        text = c.step_log(run_id, step, attempt).decode("utf-8", "replace")
    except errors.NotFound:
        if header:  # a step that never ran has no log; say nothing of it
            return
        raise
    if as_json:
        for line in text.splitlines():
            render.json_line({"step": step, "attempt": attempt, "line": line})
        return
    if header:
        render.out(f"== {step} (attempt {attempt}) ==")
    render.text(text)


def _follow_log(c: Client, run_id: str, step: str, attempt: int | None, as_json: bool,
                prefix: bool, item: int | None = None) -> None:
    for number, line in follow.step_logs(c, run_id, step, attempt, item=item):
        if line is None:
            continue
        if as_json:
            where = {"step": step} if item is None else {"step": step, "item": item}
            render.json_line({**where, "attempt": number, "line": line})
        else:
            render.log_line(line, f"{step} | " if prefix else "")
            render.flush()
