"""``wfe demo``: the first thing to try. Starts the daemon if needed, runs the bundled
demo template and shows its steps as they progress."""

from __future__ import annotations

from importlib import resources

import typer

from wfe import errors
from wfe.cli import client, daemon, follow, render


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    who: str | None = typer.Option(None, "--who", help="Who the demo greets (default: world)."),
    timeout: float = typer.Option(300.0, "--timeout", help="Give up watching after this long."),
    as_json: bool = typer.Option(False, "--json", help="No view: print the finished run."),
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
    if as_json:
        run = follow.wait(c, run["id"], timeout=timeout)
        render.json_out(run)
    else:
        with render.WatchView() as view:
            run = follow.watch(c, run["id"], view, follow.deadline_of(timeout))
        render.run_summary(run)
    if run.get("status") != "completed":
        raise typer.Exit(errors.EXIT_FAILED)


def demo_template_text() -> str:
    return resources.files("wfe").joinpath("examples/demo.yaml").read_text()
