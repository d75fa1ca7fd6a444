"""Approvals: ``wfe approvals`` (your inbox), ``wfe approve`` and ``wfe reject``."""

from __future__ import annotations

import sys

import typer

from wfe import errors
from wfe.cli import client, render, resolve_run
from wfe.cli.completion import complete_run
from wfe.cli.output import Output, field_opt, output_opt

RUN_HELP = "The run: its id, a unique prefix of 4+ characters, or @last."
ID_HELP = "The approval's id; may be left out when the run has one pending approval."
PAST = {"approve": "approved", "reject": "rejected"}
STATUSES = ("pending", "approved", "rejected", "expired", "cancelled", "all")


def register(app: typer.Typer) -> None:
    app.command("approvals")(approvals)
    app.command("approve")(approve)
    app.command("reject")(reject)


def approvals(
    status: str = typer.Option("pending", "--status", help="pending (default), approved, "
                               "rejected, expired, cancelled or all."),
    limit: int | None = typer.Option(None, "--limit", min=1, help="At most this many."),
    offset: int | None = typer.Option(None, "--offset", min=0, help="Skip this many."),
    as_json: bool = typer.Option(False, "--json", help="Print the API's JSON."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Only print the runs' ids."),
    output: str | None = output_opt(),
    field: str | None = field_opt(),
) -> None:
    """Your inbox: the approvals you may decide, across runs, newest first."""
    if status not in STATUSES:
        raise errors.UsageError(f"--status must be one of: {', '.join(STATUSES)}")
    how = Output.of(as_json, quiet, output, field)
    payload = client().list_approvals(None if status == "all" else status, limit, offset)
    render.emit(payload, how, render.approvals, key="run_id")


def _decide_command(verdict: str):
    def command(
        run_ref: str = typer.Argument(..., metavar="RUN", help=RUN_HELP,
                                      autocompletion=complete_run),
        approval_id: str | None = typer.Argument(None, metavar="APPROVAL_ID", help=ID_HELP),
        comment: str | None = typer.Option(None, "-m", "--comment", help="Why; kept with it."),
        yes: bool = typer.Option(False, "-y", "--yes", help="Do not ask for confirmation."),
        as_json: bool = typer.Option(False, "--json", help="Print the run (API JSON)."),
        quiet: bool = typer.Option(False, "-q", "--quiet", help="Only print the run's id."),
    ) -> None:
        c = client()
        run = c.get_run(resolve_run(c, run_ref))
        approval = pick_approval(run, approval_id)
        if comment is None and not (yes or as_json or quiet) and _interactive():
            render.approval_context(run, approval)
            if not render.confirm(f"{verdict} this?"):
                raise errors.WfeError(f"not {PAST[verdict]}; nothing changed")
        run = c.decide(run["id"], approval["id"], verdict, comment)
        if as_json:
            render.json_out(run)
        elif quiet:
            render.out(run["id"])
        else:
            render.decided(run, f"{PAST[verdict]} {approval['step']}")

    command.__name__ = verdict
    command.__doc__ = (f"{verdict.title()} a run's pending approval. On a terminal, without "
                       "-m, shows what is being decided and asks first.")
    return command


approve = _decide_command("approve")
reject = _decide_command("reject")


def _interactive() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def pick_approval(run: dict, approval_id: str | None) -> dict:
    """The approval meant: the one named (id or a prefix of it), else the only pending one."""
    every = run.get("approvals") or []
    if approval_id is not None:
        found = [a for a in every if a["id"].startswith(approval_id.lower())]
        if len(found) != 1:
            what = "no" if not found else "more than one"
            raise errors.NotFound(f"{what} approval {approval_id} in run {run['id']}")
        return found[0]
    pending = [a for a in every if a.get("status") == "pending"]
    if not pending:
        raise errors.Conflict(f"run {run['id']} has no pending approval (it is {run['status']})",
                              {"status": run["status"]})
    if len(pending) > 1:
        ids = ", ".join(f"{a['id']} ({a['step']})" for a in pending)
        raise errors.UsageError(f"run {run['id']} has {len(pending)} pending approvals; "
                                f"name one: {ids}")
    return pending[0]


