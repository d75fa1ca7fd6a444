"""``wfe cluster``: the daemons sharing the database, their leases and running steps."""

from __future__ import annotations

import typer

from wfe.cli import client, render


def cluster(as_json: bool = typer.Option(False, "--json", help="Print the API's JSON.")) -> None:
    """The nodes (daemons) sharing this database: state, leases, running steps (admins)."""
    payload = client().cluster()
    if as_json:
        render.json_out(payload)
        return
    rows = [[n["id"], n["state"], n["host"], str(n["pid"]), str(len(n["leases"])),
             str(len(n["running_steps"])), n["seen_at"]] for n in payload["nodes"]]
    render.table(["NODE", "STATE", "HOST", "PID", "LEASES", "STEPS", "SEEN"], rows,
                 title=f"{payload['backend']} · lease {payload['lease_seconds']:g}s"
                       f" · answered by {payload['this_node']}")
    for n in payload["nodes"]:
        for s in n["running_steps"]:
            render.out(f"{n['id']}  {s['run_id']}  {s['step']} (attempt {s['attempt']})"
                       f"  since {s['started_at']}")
