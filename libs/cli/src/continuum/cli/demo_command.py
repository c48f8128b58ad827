"""``continuum demo``: the main job behind ``make demo``.

Until the five services land, the demo starts the real local Kafka broker and says what
is running and how to stop it.
"""

from __future__ import annotations

from continuum.cli.output import err, fail, out
from continuum.localkafka import LocalKafka, LocalKafkaError, default_data_dir


def demo() -> None:
    """Start the local stack and show what runs."""
    local = LocalKafka(default_data_dir(), console=err)
    try:
        running = local.start()
    except LocalKafkaError as exc:
        fail(str(exc))
    out.print("[bold]Continuum demo[/bold]", highlight=False)
    out.print(
        f"  Kafka {running.version}: {running.bootstrap_servers} (pid {running.pid}, "
        f"data in {running.data_dir}, started in {running.seconds:.1f} s)",
        highlight=False,
    )
    out.print("  Try it:  kcat -L -b " + running.bootstrap_servers, highlight=False)
    out.print("  Stop it: uv run continuum kafka stop   (or: make kafka-stop)", highlight=False)
