"""``continuum up``: Kafka and the five services as local processes, until Ctrl-C."""

from __future__ import annotations

import asyncio
import signal
import threading
from pathlib import Path
from typing import Annotated

import typer

from continuum.cli.output import err, fail, out
from continuum.cli.stack import SERVICES, LocalStack, StackError
from continuum.cli.topics_setup import ensure_topics
from continuum.localkafka import LocalKafka, LocalKafkaError


def up(
    home: Annotated[Path, typer.Option(help="State, data, artifacts and logs.")] = Path(
        ".continuum"
    ),
    kafka_port: Annotated[int | None, typer.Option(help="Kafka client port.")] = None,
) -> None:
    """Start Kafka and every service, print where they are, and keep them running."""
    home = home.resolve()
    try:
        kafka = LocalKafka(home / "kafka", console=err).start(kafka_port)
        asyncio.run(ensure_topics(kafka.bootstrap_servers))
        stack = LocalStack(home, kafka.bootstrap_servers)
        stack.start()
    except (LocalKafkaError, StackError) as exc:
        fail(str(exc))
    out.print(f"Kafka      {kafka.bootstrap_servers}", highlight=False)
    for name in SERVICES:
        out.print(
            f"{name:<10} {stack.url(name)}   log {stack.running[name].log_path}", highlight=False
        )
    out.print(f"registry token in {home / 'registry-token'}", highlight=False)
    out.print("apply a pipeline: uv run continuum pipelines apply examples/pipelines/flights.yaml")
    out.print("Ctrl-C stops the services (Kafka keeps running: continuum kafka stop).")
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        while not stopped.wait(2):
            dead = [s.name for s in stack.running.values() if not s.alive()]
            if dead:
                err.print(f"[red]stopped unexpectedly: {', '.join(dead)}[/red] (see logs)")
                break
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()
