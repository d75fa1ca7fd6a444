"""``wfe demo``: the first thing to try. Starts the daemon if needed, runs the bundled
demo template and shows its steps as they progress."""

from __future__ import annotations

import time
from importlib import resources

import typer

from wfe import errors
from wfe.cli import client, daemon, render

TERMINAL = ("completed", "failed", "cancelled")
POLL_INTERVAL = 0.2


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    who: str | None = typer.Option(None, "--who", help="Who the demo greets (default: world)."),
    timeout: float = typer.Option(300.0, "--timeout", help="Give up watching after this long."),
) -> None:
    """Run the bundled demo workflow end to end, starting the daemon if it is not running."""
    info, started = daemon.ensure_running()
    if started:
        render.note(f"started the wfe daemon at {info['url']}")
    c = client()
    template = c.create_template(demo_template_text(), "application/yaml")
    template = c.publish_template(template["id"])
    run = c.start_run(template["id"], {"who": who} if who else {}, trigger_type="cli")
    render.note(f"run {run['id']} of {render.template_ref(template)}")
    run = watch(c, run["id"], timeout)
    render.run_summary(run)
    if run.get("status") != "completed":
        raise typer.Exit(errors.EXIT_FAILED)


def demo_template_text() -> str:
    return resources.files("wfe").joinpath("examples/demo.yaml").read_text()


def watch(c, run_id: str, timeout: float) -> dict:
    """Poll the run until it is terminal, showing each step's progress."""
    deadline = time.monotonic() + timeout
    with render.RunView() as view:
        while True:
            run = c.get_run(run_id)
            view.update(run)
            if run.get("status") in TERMINAL:
                return run
            if time.monotonic() > deadline:
                raise errors.WaitTimeout(
                    f"run {run_id} is still {run.get('status')} after {timeout:g}s; "
                    f"follow it with: wfe show {run_id}"
                )
            time.sleep(POLL_INTERVAL)
