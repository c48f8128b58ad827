"""``continuum up``: Kafka and the five services as local processes, until Ctrl-C.

Only the options live here; the work is in :mod:`continuum.cli.up_run`, imported when
the command runs so ``continuum --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from continuum.cli.ports import DEFAULT_PORTS

PORT_HELP = "{name}'s HTTP port (0 = any free port). Default: from --base-port, else {port}."


def _port_option(name: str, service: str) -> object:
    help_text = PORT_HELP.format(name=name, port=DEFAULT_PORTS[service])
    return typer.Option(help=help_text, show_default=False)


def up(
    home: Annotated[Path, typer.Option(help="State, data, artifacts and logs.")] = Path(
        ".continuum"
    ),
    base_port: Annotated[
        int | None,
        typer.Option(
            help="Services on BASE..BASE+4 (registry, serving, ingest, trainer, monitor). "
            "0 picks free ports for them and for Kafka. Default: "
            f"{min(DEFAULT_PORTS.values())}-{max(DEFAULT_PORTS.values())}.",
            show_default=False,
        ),
    ] = None,
    registry_port: Annotated[int | None, _port_option("The registry", "registry")] = None,
    serving_port: Annotated[int | None, _port_option("Serving", "serving")] = None,
    ingest_port: Annotated[int | None, _port_option("Ingest", "ingest")] = None,
    trainer_port: Annotated[int | None, _port_option("The trainer", "trainer")] = None,
    monitor_port: Annotated[int | None, _port_option("The monitor", "monitor")] = None,
    kafka_port: Annotated[
        int | None,
        typer.Option(
            help="Kafka client port (0 = any free port). Default: the port this home's "
            "Kafka used last, else 9092; with --base-port 0, a free port.",
            show_default=False,
        ),
    ] = None,
    timeout: Annotated[
        float, typer.Option(help="Seconds each service may take to become healthy.")
    ] = 120.0,
) -> None:
    """Start Kafka and every service, print where they are, and keep them running.

    Prints each step while starting. A busy port is reported before anything starts; if
    a service then fails, everything this command started is stopped again. `continuum
    down` (from another shell) stops it all.
    """
    from continuum.cli.up_run import UpRequest, run_up

    chosen = {
        "registry": registry_port,
        "serving": serving_port,
        "ingest": ingest_port,
        "trainer": trainer_port,
        "monitor": monitor_port,
    }
    code = run_up(UpRequest(home.resolve(), base_port, chosen, kafka_port, timeout))
    if code:
        raise typer.Exit(code=code)
