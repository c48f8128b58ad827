"""``continuum kafka ...``: run the local single-node Kafka broker.

``continuum.localkafka`` (and the Kafka client it brings) is imported inside the
commands, so ``continuum --help`` does not load it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from continuum.cli.output import err, fail, out

if TYPE_CHECKING:
    from continuum.localkafka import LocalKafka

DEFAULT_PORT = 9092
"""``continuum.localkafka.DEFAULT_PORT``, for the help text (a test keeps them equal)."""

app = typer.Typer(help="Run a local single-node Apache Kafka (KRaft) broker.", no_args_is_help=True)

DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Broker data dir (config, storage, logs). Default: $CONTINUUM_HOME/kafka, "
        "with CONTINUUM_HOME defaulting to ./.continuum.",
    ),
]


def _local(data_dir: Path | None) -> LocalKafka:
    from continuum.localkafka import LocalKafka, default_data_dir

    return LocalKafka(data_dir or default_data_dir(), console=err)


@app.command()
def start(
    port: Annotated[
        int | None,
        typer.Option(
            help=f"Client port; default {DEFAULT_PORT}, or the port this data dir used last. "
            "0 picks a free port.",
            show_default=False,
        ),
    ] = None,
    data_dir: DataDirOption = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the broker.")] = 90.0,
) -> None:
    """Start the broker in the background (download the jars first if needed)."""
    from continuum.localkafka import LocalKafkaError

    try:
        running = _local(data_dir).start(port, timeout=timeout)
    except LocalKafkaError as exc:
        fail(str(exc))
    if running.already_running:
        out.print(f"Kafka {running.version} is already running.", highlight=False)
    else:
        out.print(f"Kafka {running.version} started.", highlight=False)
    out.print(f"  bootstrap servers: [bold]{running.bootstrap_servers}[/bold]", highlight=False)
    out.print(f"  pid:               {running.pid}", highlight=False)
    out.print(f"  data dir:          {running.data_dir}", highlight=False)
    took = f"  took:              {running.seconds:.1f} s"
    if running.download_seconds:
        broker_s = running.seconds - running.download_seconds
        took += f" (jar download {running.download_seconds:.1f} s, broker {broker_s:.1f} s)"
    out.print(took, highlight=False)


@app.command()
def stop(
    data_dir: DataDirOption = None,
    timeout: Annotated[float, typer.Option(help="Seconds before SIGKILL.")] = 30.0,
) -> None:
    """Stop the broker (SIGTERM, then SIGKILL after the timeout). Data is kept."""
    from continuum.localkafka import LocalKafkaError

    local = _local(data_dir)
    try:
        was_running = local.stop(timeout=timeout)
    except LocalKafkaError as exc:
        fail(str(exc))
    if was_running:
        out.print(f"Kafka stopped ({local.data_dir}).", highlight=False)
    else:
        out.print(f"Kafka was not running ({local.data_dir}).", highlight=False)


@app.command()
def status(data_dir: DataDirOption = None) -> None:
    """Show whether the broker runs and answers metadata; exit 1 unless it does."""
    from continuum.localkafka import LocalKafkaError

    try:
        info = _local(data_dir).status()
    except LocalKafkaError as exc:
        fail(str(exc))
    if not info.running:
        out.print(f"[red]stopped[/red]  ({info.data_dir})", highlight=False)
        raise typer.Exit(code=1)
    state = "[green]running[/green]" if info.reachable else "[yellow]unreachable[/yellow]"
    out.print(f"{state}  Kafka {info.version}  pid {info.pid}", highlight=False)
    out.print(f"  bootstrap servers: {info.bootstrap_servers}", highlight=False)
    out.print(f"  controller port:   {info.controller_port}", highlight=False)
    out.print(f"  brokers in metadata: {len(info.brokers)}", highlight=False)
    out.print(f"  data dir:          {info.data_dir}", highlight=False)
    if not info.reachable:
        raise typer.Exit(code=1)


@app.command()
def fetch() -> None:
    """Only resolve (download once) the broker jars; used by setup."""
    from continuum.localkafka import LocalKafka, LocalKafkaError

    try:
        jars = LocalKafka(console=err).fetch()
    except LocalKafkaError as exc:
        fail(str(exc))
    count = len(list(jars.libs_dir.glob("*.jar")))
    how = f"downloaded in {jars.seconds:.1f} s" if jars.downloaded else "already cached"
    out.print(f"Kafka {jars.version}: {count} jars in {jars.libs_dir} ({how}).", highlight=False)
