"""``wfe token create|ls|rm``: your API tokens (for scripts, CI, another machine)."""

from __future__ import annotations

import typer

from wfe.cli import client, render
from wfe.cli.output import Output, field_opt, output_opt
from wfe.cli.verbs import command

app = typer.Typer(help="Your API tokens: create one per script or machine, revoke at will.",
                  no_args_is_help=True)
JSON_HELP = "Print the API's JSON."


@command(app, "create")
def create(
    name: str = typer.Option("", "--name", help="A label to tell your tokens apart."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    quiet: bool = typer.Option(False, "-q", "--quiet",
                               help="Only print the token's id (the token itself is then not"
                                    " shown: --json gives both)."),
) -> None:
    """Create a token and print it: it is shown only this once (only a hash is kept)."""
    token = client().create_token(name)
    if as_json:
        render.json_out(token)
        return
    if quiet:
        render.out(token["id"])
        return
    render.note(f"created token {token['id']}" + (f" ({token['name']})" if token["name"] else ""))
    render.secret(token["token"])


@command(app, "ls")
def list_(
    limit: int | None = typer.Option(None, "--limit", min=1, help="At most this many."),
    offset: int | None = typer.Option(None, "--offset", min=0, help="Skip this many."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Only print the tokens' ids."),
    output: str | None = output_opt(),
    field: str | None = field_opt(),
) -> None:
    """List your tokens, newest first (never the tokens themselves)."""
    how = Output.of(as_json, quiet, output, field)
    render.emit(client().list_tokens(limit=limit, offset=offset), how, _tokens)


def _tokens(payload: dict) -> None:
    rows = [[t["id"], t["name"] or "-", render.ago(t["created_at"]),
             "revoked " + render.ago(t["revoked_at"]) if t["revoked_at"] else "active"]
            for t in payload["items"]]
    render.table(["ID", "NAME", "CREATED", "STATUS"], rows)


@command(app, "rm", "revoke")
def revoke(
    token_id: str = typer.Argument(..., metavar="ID", help="The token's id (from wfe token ls)."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Revoke a token: the daemon refuses it from now on (it stays listed, as revoked)."""
    token = client().revoke_token(token_id)
    if as_json:
        render.json_out(token)
        return
    render.note(f"revoked token {token['id']}")
