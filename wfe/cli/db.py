"""``wfe db status`` and ``wfe db migrate``: the database's schema, without the daemon.

On a PostgreSQL server that several daemons share, one person migrates (the others'
daemons wait for the migration's lock, and refuse a schema newer than they know).
"""

from __future__ import annotations

import typer

from wfe import config
from wfe.cli import render
from wfe.errors import WfeError

app = typer.Typer(help="The database's schema: its version, and migrating it.",
                  no_args_is_help=True)
DATABASE_HELP = "sqlite:///PATH or postgresql://... (default: the database_url setting)."


def _status(database: str | None, apply: bool) -> dict:
    from wfe.daemon.store.backends import schema_status

    p = config.paths()
    settings = config.Settings.load(p, database_url=database)
    try:
        return schema_status(settings, p, apply)
    except WfeError:
        raise
    except Exception as exc:  # the server refused, or is not there: one line says which
        raise WfeError(f"cannot reach the database: {str(exc).strip().splitlines()[0]}") \
            from None


def _show(info: dict, as_json: bool) -> None:
    if as_json:
        render.json_out(info)
        return
    state = ("newer than this wfe: upgrade wfe" if info["newer"] else
             f"{info['pending']} migrations pending: run `wfe db migrate`" if info["pending"]
             else "up to date")
    render.kv([("database", info["database"]), ("backend", info["backend"]),
               ("schema", f"{info['version']} of {info['latest']}"), ("state", state)])


@app.command()
def status(
    database: str | None = typer.Option(None, "--database", help=DATABASE_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print it as JSON."),
) -> None:
    """The schema's version in the database beside the one this wfe writes."""
    _show(_status(database, apply=False), as_json)


@app.command()
def migrate(
    database: str | None = typer.Option(None, "--database", help=DATABASE_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Bring the schema up to date (daemons do it at start too; on a shared server, one
    migrates while the others wait)."""
    info = _status(database, apply=True)
    if info["newer"]:
        raise WfeError(f"the database's schema is version {info['version']}, newer than this"
                       f" wfe knows ({info['latest']}): upgrade wfe")
    _show(info, as_json)
