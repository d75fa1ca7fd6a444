"""``wfe template ...``: create, publish, list, show and validate workflow templates."""

from __future__ import annotations

import typer

from wfe import errors
from wfe.cli import client, content_type_of, read_text, render
from wfe.cli.output import Output, field_opt, output_opt
from wfe.cli.verbs import command
from wfe.client import is_uuid

app = typer.Typer(help="Create, publish and inspect workflow templates.", no_args_is_help=True)

FILE_HELP = "A YAML or JSON template file (.json is sent as JSON); - reads stdin."
REF_HELP = "A template id, NAME (its latest version) or NAME@VERSION."
JSON_HELP = "Print the API's JSON."


@command(app, "create")
def create(
    file: str = typer.Argument(..., help=FILE_HELP),
    publish: bool = typer.Option(False, "--publish", help="Publish it right away."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Only print the template's id."),
) -> None:
    """Create a new draft version of a template (version n+1 of its name)."""
    text = read_text(file)
    c = client()
    t = c.create_template(text, content_type_of(file, text))
    render.template_warnings(t.get("warnings") or [])
    if publish:
        t = c.publish_template(t["id"])
    if as_json:
        render.json_out(t)
    elif quiet:
        render.out(t["id"])
    else:
        render.template_action(t, "created")


@app.command()
def publish(
    ref: str = typer.Argument(..., metavar="ID|NAME[@VERSION]", help=REF_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Publish a draft, so that runs can start from it."""
    c = client()
    template_id = ref if is_uuid(ref) else c.get_template(ref)["id"]
    t = c.publish_template(template_id)
    if as_json:
        render.json_out(t)
    else:
        render.template_action(t, "published")


@command(app, "rm")
def remove(
    ref: str = typer.Argument(..., metavar="ID|NAME[@VERSION]", help=REF_HELP),
    as_json: bool = typer.Option(False, "--json", help='Print {"removed": REF}.'),
) -> None:
    """Delete a draft, or archive a published version (its runs keep it; no new ones start)."""
    client().delete_template(ref)
    if as_json:
        render.json_out({"removed": ref})
    else:
        render.note(f"removed template {ref}")


@command(app, "ls")
def list_(
    name: str | None = typer.Option(None, "--name", help="Only versions of this name."),
    status: str | None = typer.Option(None, "--status", help="draft, published or archived."),
    limit: int | None = typer.Option(None, "--limit", min=1, help="At most this many."),
    offset: int | None = typer.Option(None, "--offset", min=0, help="Skip this many."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Only print the templates' ids."),
    output: str | None = output_opt(),
    field: str | None = field_opt(),
) -> None:
    """List templates, newest first."""
    how = Output.of(as_json, quiet, output, field)
    payload = client().list_templates(name=name, status=status, limit=limit, offset=offset)
    render.emit(payload, how, render.templates)


@command(app, "show")
def show(
    ref: str = typer.Argument(..., metavar="ID|NAME[@VERSION]", help=REF_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    graph: bool = typer.Option(False, "--graph", help="Print its steps as a graph, by level."),
    dot: bool = typer.Option(False, "--dot", help="Print its graph as Graphviz (dot -Tsvg)."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Only print the template's id."),
    output: str | None = output_opt(),
    field: str | None = field_opt(),
) -> None:
    """Show one template: its variables and steps (or its graph)."""
    how = Output.of(as_json, quiet, output, field)
    if sum((how.machine or how.format == "wide", graph, dot)) > 1:
        raise errors.UsageError("give one of --json, --graph and --dot (or -o, --field)")
    t = client().get_template(ref)
    if dot:
        render.template_dot(t)
    elif graph:
        render.template_graph(t)
    else:
        render.emit(t, how, render.template)


@app.command()
def validate(
    file: str = typer.Argument(..., help=FILE_HELP),
    as_json: bool = typer.Option(
        False, "--json",
        help='Print {"file", "valid", "name", "warnings", "errors"}, also when invalid.'),
) -> None:
    """Check a template file offline (no daemon needed); exit 2 and list the problems if bad.

    Warnings (valid but risky, e.g. an expression inside sh -c '...') go to stderr."""
    try:
        spec = _checked_file(file)
    except errors.WfeError as e:
        if not as_json:
            render.error(e, full=True)  # listing the problems is what this command is for
            raise typer.Exit(e.exit_code) from None
        # A script asked for JSON: it gets a document either way, and the exit code.
        render.json_out({"file": file, "valid": False, "name": None, "warnings": [],
                         "errors": _problems(e)})
        render.error(e)
        raise typer.Exit(e.exit_code) from None
    from wfe.engine.spec import template_warnings

    warnings = template_warnings(spec)
    render.template_warnings(warnings)
    if as_json:
        render.json_out({"file": file, "valid": True, "name": spec.name, "warnings": warnings,
                         "errors": []})
    else:
        render.valid(file, spec)


def _checked_file(file: str):
    text = read_text(file)
    # The engine (and its YAML and jinja2 imports) is paid for only by this command.
    from wfe.engine.spec import load_template_text, parse_template

    return parse_template(load_template_text(text, content_type_of(file, text)))


def _problems(e: errors.WfeError) -> list[dict]:
    """Each problem as {path, message}: a field's (validation), or the file's as a whole."""
    if isinstance(e.details, list) and all(isinstance(d, dict) for d in e.details):
        return [{"path": d.get("path") or "", "message": d.get("message")} for d in e.details]
    return [{"path": "", "message": e.message}]
