"""The ``continuum`` command. Each sub-app lives in its own module and is added here."""

from __future__ import annotations

import typer

from continuum.cli import kafka_commands, pipelines_commands
from continuum.cli.demo_command import demo
from continuum.cli.down_command import down
from continuum.cli.export_command import export
from continuum.cli.up_command import up

app = typer.Typer(
    name="continuum",
    help="Continuum: a self-hosted, event-driven MLOps platform.",
    no_args_is_help=True,
    # Expected failures are caught and printed in red; anything else is a bug worth a
    # plain traceback rather than rich's multi-screen rendering with locals.
    pretty_exceptions_show_locals=False,
)
app.add_typer(kafka_commands.app, name="kafka")
app.add_typer(pipelines_commands.app, name="pipelines")
app.command()(demo)
app.command()(up)
app.command()(down)
app.command()(export)


if __name__ == "__main__":
    app()
