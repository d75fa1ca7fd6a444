"""Runs: ``wfe start|ls|show|pause|resume|cancel|retry``, top-level because they are the
commands people type most."""

from __future__ import annotations

import json
from typing import Any

import typer

from wfe import errors
from wfe.cli import client, read_text, render

JSON_HELP = "Print the API's JSON."
RUN_HELP = "The run's id."


def register(app: typer.Typer) -> None:
    for fn in (start, ls, show, pause, resume, cancel, retry):
        app.command(fn.__name__)(fn)


def start(
    template: str = typer.Argument(
        ..., metavar="TEMPLATE", help="A template id, NAME (latest published) or NAME@VERSION."
    ),
    inputs: list[str] = typer.Option(
        [], "-i", "--input", metavar="KEY=VALUE", help="An input variable; repeatable."
    ),
    input_file: str | None = typer.Option(
        None, "--input-file", help="Inputs as a JSON or YAML object; -i values override it."
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Start a run of a published template."""
    c = client()
    data = load_input_file(input_file) if input_file else {}
    if inputs:
        pairs = parse_pairs(inputs)
        data.update(coerce(pairs, _variables(c, template)))
    run = c.start_run(template, data, trigger_type="cli")
    _show_action(run, as_json)


def ls(
    status: str | None = typer.Option(None, "--status", help="Only runs in this status."),
    limit: int | None = typer.Option(None, "--limit", min=1, help="At most this many (max 500)."),
    offset: int | None = typer.Option(None, "--offset", min=0, help="Skip this many."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Only print the runs' ids."),
) -> None:
    """List your runs, newest first."""
    payload = client().list_runs(status=status, limit=limit, offset=offset)
    if as_json:
        render.json_out(payload)
    elif quiet:
        render.ids(payload)
    else:
        render.runs(payload)


def show(
    run_id: str = typer.Argument(..., metavar="RUN", help=RUN_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Show a run: its steps, then its events."""
    run = client().get_run(run_id)
    if as_json:
        render.json_out(run)
    else:
        render.run(run)


def pause(
    run_id: str = typer.Argument(..., metavar="RUN", help=RUN_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Pause a run; the step in flight finishes, no new step starts."""
    _show_action(client().pause_run(run_id), as_json)


def resume(
    run_id: str = typer.Argument(..., metavar="RUN", help=RUN_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Resume a paused run where it was."""
    _show_action(client().resume_run(run_id), as_json)


def cancel(
    run_id: str = typer.Argument(..., metavar="RUN", help=RUN_HELP),
    reason: str | None = typer.Option(None, "--reason", help="Why; kept in the run's events."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Cancel a run; a running step is stopped."""
    _show_action(client().cancel_run(run_id, reason), as_json)


def retry(
    run_id: str = typer.Argument(..., metavar="RUN", help=RUN_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Retry a failed or cancelled run from the step that did not succeed."""
    _show_action(client().retry_run(run_id), as_json)


def _show_action(run: dict, as_json: bool) -> None:
    if as_json:
        render.json_out(run)
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


_BOOLS = {"true": True, "yes": True, "on": True, "1": True,
          "false": False, "no": False, "off": False, "0": False}  # fmt: skip


def _convert(raw: str, kind: str) -> Any:
    try:
        if kind == "integer":
            return int(raw)
        if kind == "number":
            return float(raw) if any(ch in raw for ch in ".eE") else int(raw)
        if kind == "boolean":
            return _BOOLS[raw.strip().lower()]
        if kind in ("object", "array"):
            return json.loads(raw)
    except (ValueError, KeyError):
        return raw
    return raw
