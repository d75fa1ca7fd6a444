"""Runs: ``wfe start|ls|show|pause|resume|cancel|retry|rm``, top-level because they are the
commands people type most."""

from __future__ import annotations

import json
from typing import Any

import typer

from wfe import errors
from wfe.cli import client, read_text, render, resolve_run
from wfe.cli.completion import complete_run, complete_template
from wfe.cli.output import Output, field_opt, output_opt
from wfe.engine.inputs import parse_boolean

JSON_HELP = "Print the API's JSON."
RUN_HELP = "The run: its id, a unique prefix of 4+ characters, or @last."
QUIET_HELP = "Only print the run's id."


def register(app: typer.Typer) -> None:
    for fn in (start, ls, show, pause, resume, cancel, retry, rm):
        app.command(fn.__name__)(fn)
    app.command("list", hidden=True)(ls)  # the other spelling every noun's ls has


def _run_arg():
    return typer.Argument(..., metavar="RUN", help=RUN_HELP, autocompletion=complete_run)


def _json_opt():
    return typer.Option(False, "--json", help=JSON_HELP)


def _quiet_opt():
    return typer.Option(False, "-q", "--quiet", help=QUIET_HELP)


def start(
    template: str = typer.Argument(
        ..., metavar="TEMPLATE", help="A template id, NAME (latest published) or NAME@VERSION.",
        autocompletion=complete_template),
    inputs: list[str] = typer.Option(
        [], "-i", "--input", metavar="KEY=VALUE", help="An input variable; repeatable."
    ),
    input_file: str | None = typer.Option(
        None, "--input-file", help="Inputs as a JSON or YAML object; -i values override it."
    ),
    watch: bool = typer.Option(False, "--watch", help="Watch it live; exit by its outcome."),
    wait: bool = typer.Option(False, "--wait",
                              help="Wait for its end (or an approval); exit by its outcome."),
    idempotency_key: str | None = typer.Option(
        None, "--idempotency-key", metavar="KEY",
        help="Start at most one run for this key: the same command again (within 24 h)"
             " answers the run it started."),
    as_json: bool = _json_opt(),
    quiet: bool = _quiet_opt(),
) -> None:
    """Start a run of a published template."""
    c = client()
    data = load_input_file(input_file) if input_file else {}
    if inputs:
        pairs = parse_pairs(inputs)
        data.update(coerce(pairs, _variables(c, template)))
    run = c.start_run(template, data, trigger_type="cli", idempotency_key=idempotency_key)
    if watch and not (as_json or quiet):
        from wfe.cli.live import show_live

        render.note(f"run {run['id']} started")
        show_live(c, run["id"])
    if watch or wait:
        _wait_for_outcome(c, run, as_json, quiet)
    _show_action(run, as_json, quiet)


def _wait_for_outcome(c, run: dict, as_json: bool, quiet: bool) -> None:
    from wfe.cli import follow

    run = follow.wait(c, run["id"], "waiting_approval")
    _show_action(run, as_json, quiet)
    raise typer.Exit(follow.exit_code(run))


def ls(
    status: str | None = typer.Option(None, "--status", help="Only runs in this status."),
    template: str | None = typer.Option(
        None, "--template", metavar="NAME", autocompletion=complete_template,
        help="Only runs of this template (any version)."),
    since: str | None = typer.Option(
        None, "--since", metavar="WHEN",
        help="Only runs created since: a time ago (30m, 1h, 2d) or an ISO-8601 time."),
    schedule: str | None = typer.Option(None, "--schedule", metavar="ID",
                                        help="Only runs this schedule started."),
    limit: int | None = typer.Option(None, "--limit", min=1, help="At most this many (max 500)."),
    offset: int | None = typer.Option(None, "--offset", min=0, help="Skip this many."),
    before: str | None = typer.Option(
        None, "--before", metavar="RUN", autocompletion=complete_run,
        help="Start after this run (the last one of the previous page): next pages by cursor."),
    as_json: bool = _json_opt(),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Only print the runs' ids."),
    output: str | None = output_opt(),
    field: str | None = field_opt(),
) -> None:
    """List your runs, newest first."""
    after = _since(since) if since is not None else None
    how = Output.of(as_json, quiet, output, field)
    c = client()
    cursor = resolve_run(c, before) if before else None
    payload = c.list_runs(status=status, limit=limit, offset=offset, before=cursor,
                          template=template, since=after, schedule=schedule)
    render.emit(payload, how, render.runs)


def _since(text: str) -> str:
    """The API takes a time; people also write how long ago."""
    from datetime import UTC, datetime

    from wfe.engine.durations import parse_since

    try:
        return parse_since(text, datetime.now(UTC)).isoformat().replace("+00:00", "Z")
    except ValueError as e:
        raise errors.UsageError(f"--since: {e}") from None


def show(run_ref: str = _run_arg(), as_json: bool = _json_opt(),
         quiet: bool = typer.Option(False, "-q", "--quiet", help="Only print the run's id."),
         output: str | None = output_opt(), field: str | None = field_opt()) -> None:
    """Show a run: its steps, then its events."""
    how = Output.of(as_json, quiet, output, field)
    c = client()
    render.emit(c.get_run(resolve_run(c, run_ref)), how, render.run)


def pause(run_ref: str = _run_arg(), as_json: bool = _json_opt(),
          quiet: bool = _quiet_opt()) -> None:
    """Pause a run; the step in flight finishes, no new step starts."""
    c = client()
    _show_action(c.pause_run(resolve_run(c, run_ref)), as_json, quiet)


def resume(run_ref: str = _run_arg(), as_json: bool = _json_opt(),
           quiet: bool = _quiet_opt()) -> None:
    """Resume a paused run where it was."""
    c = client()
    _show_action(c.resume_run(resolve_run(c, run_ref)), as_json, quiet)


def cancel(
    run_ref: str = _run_arg(),
    reason: str | None = typer.Option(None, "--reason", help="Why; kept in the run's events."),
    as_json: bool = _json_opt(),
    quiet: bool = _quiet_opt(),
) -> None:
    """Cancel a run; a running step is stopped."""
    c = client()
    _show_action(c.cancel_run(resolve_run(c, run_ref), reason), as_json, quiet)


def retry(run_ref: str = _run_arg(), as_json: bool = _json_opt(),
          quiet: bool = _quiet_opt()) -> None:
    """Retry a failed or cancelled run from the step that did not succeed."""
    c = client()
    _show_action(c.retry_run(resolve_run(c, run_ref)), as_json, quiet)


def rm(
    run_refs: list[str] = typer.Argument(..., metavar="RUN...", help=RUN_HELP,
                                         autocompletion=complete_run),
    as_json: bool = _json_opt(),
    quiet: bool = _quiet_opt(),
) -> None:
    """Delete ended runs with their sub-workflow runs, steps, events and logs.

    A run that has not ended (or whose failure handlers still run) is refused: cancel it
    first. Each deletion is kept in the audit log (`wfe audit verify` reports it). Stops at
    the first run that cannot be deleted; the ones before it are gone."""
    c = client()
    answers = []
    for ref in run_refs:
        answer = c.delete_run(resolve_run(c, ref))
        answers.append(answer)
        if not as_json:
            render.out(answer["run_id"] if quiet else render.run_deleted(answer))
    if as_json:
        render.json_out(answers)


def _show_action(run: dict, as_json: bool, quiet: bool = False) -> None:
    if as_json:
        render.json_out(run)
    elif quiet:
        render.out(run["id"])
    else:
        render.run_action(run)


# -- inputs ----------------------------------------------------------------------------


def load_input_file(file: str) -> dict[str, Any]:
    text = read_text(file)
    is_yaml = file.lower().endswith((".yaml", ".yml"))
    data = _parse_yaml(file, text) if is_yaml else _parse_json(file, text)
    if not isinstance(data, dict):
        raise errors.UsageError(f"{file}: inputs must be an object of NAME: VALUE")
    return data


def _parse_json(file: str, text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as e:
        raise errors.UsageError(f"{file}: not valid JSON: {e}") from None


def _parse_yaml(file: str, text: str) -> Any:
    import yaml  # only paid for by YAML input files

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise errors.UsageError(f"{file}: not valid YAML: {' '.join(str(e).split())}") from None


def parse_pairs(items: list[str]) -> dict[str, str]:
    pairs = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise errors.UsageError(f"-i expects KEY=VALUE, got {item!r}")
        pairs[key.strip()] = value
    return pairs


def _variables(c, template: str) -> dict[str, Any]:
    """The template's declared variables, to give -i values their declared types."""
    return c.get_template(template).get("variables") or {}


def coerce(pairs: dict[str, str], variables: dict[str, Any]) -> dict[str, Any]:
    """Turn ``-i`` strings into the declared types. A value that does not convert is sent
    as typed, so the daemon's 422 names the field (one place for input validation)."""
    out: dict[str, Any] = {}
    for key, raw in pairs.items():
        spec = variables.get(key)
        kind = spec.get("type", "string") if isinstance(spec, dict) else "string"
        out[key] = _convert(raw, kind)
    return out


def _convert(raw: str, kind: str) -> Any:
    try:
        if kind == "integer":
            return int(raw)
        if kind == "number":
            return float(raw) if any(ch in raw for ch in ".eE") else int(raw)
        if kind == "boolean":
            return parse_boolean(raw)
        if kind in ("object", "array"):
            return json.loads(raw)
    except ValueError:
        return raw
    return raw
