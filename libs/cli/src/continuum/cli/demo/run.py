"""Runs the demo: Kafka + five services, the flights pipeline, a replay, and a verdict."""

from __future__ import annotations

import asyncio
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from rich.console import Console

from continuum.cli.demo.observer import LoopEvents, LoopObserver
from continuum.cli.demo.replay import Replayer, ReplayStats
from continuum.cli.demo.summary import DemoSummary, build_summary
from continuum.cli.flights_data import load_flights, to_records
from continuum.cli.ports import free_ports
from continuum.cli.stack import SERVICES, LocalStack
from continuum.cli.topics_setup import ensure_topics
from continuum.contracts import parse_spec_yaml
from continuum.localkafka import LocalKafka
from continuum.registry_client import RegistryClient


@dataclass(frozen=True)
class DemoConfig:
    """What to replay and how fast."""

    home: Path
    spec_path: Path
    months: tuple[int, int] = (1, 6)
    every: int = 2
    seconds_per_day: float = 0.6
    settle_seconds: float = 180.0
    keep_running: bool = False
    extra_env: tuple[tuple[str, str], ...] = ()
    bootstrap_servers: str | None = None
    """Use this Kafka instead of starting one (tests share their session broker)."""
    ports: dict[str, int] | None = None
    """Each service's HTTP port (free ports by default); lets a scraper be set up first."""


@dataclass
class DemoResult:
    """The summary, why the loop did not close (if it did not), and the raw observations."""

    summary: DemoSummary
    problems: list[str]
    events: LoopEvents
    stats: ReplayStats
    home: Path
    stack: LocalStack | None = None
    """The still-running services when ``keep_running`` is set (the caller stops them)."""


async def _apply_spec(stack: LocalStack, spec_text: str, name: str) -> int:
    async with RegistryClient(stack.url("registry"), token=stack.token) as registry:
        record = await registry.apply_spec(name, spec_text, applied_by="demo")
        return record.spec_version


LOOP_TRIGGERS = ("quality", "drift")
"""Runs the monitor's signals started: live quality (cost_aware) or drift (rules)."""


def _loop_closed(summary: DemoSummary) -> list[str]:
    """Why the loop did not close (empty when it did)."""
    problems = []
    promoted = [v for v in summary.model_versions if v["promoted"]]
    if not promoted:
        problems.append("no model version was promoted")
    if not summary.quality_events:
        problems.append("the monitor measured no live quality window")
    if not summary.drift_events:
        problems.append("no drift event was detected")
    retrained = [v for v in promoted if v["trigger"] in LOOP_TRIGGERS]
    if not retrained:
        problems.append("no retrain started by the monitor's signals was promoted by the gate")
    elif summary.served_version is None or summary.served_version < retrained[0]["version"]:
        problems.append(
            f"serving answers with version {summary.served_version}, not the retrained "
            f"version {retrained[0]['version']}"
        )
    if summary.served_version != summary.champion_version:
        problems.append(
            f"serving answers with {summary.served_version} but the champion is "
            f"{summary.champion_version}"
        )
    if len(summary.versions_served) < 2:
        problems.append("serving never changed version")
    if summary.serving_restarts:
        problems.append("serving was restarted")
    if summary.failed_requests:
        problems.append(f"{summary.failed_requests} prediction requests failed")
    return problems


async def _settle(
    stack: LocalStack,
    observer: LoopObserver,
    stats: ReplayStats,
    replayer: Replayer,
    deadline: float,
    pipeline: str,
) -> None:
    """After the replay, wait until every record is ingested or rejected and serving
    answers with the current champion (one the monitor's signals retrained)."""
    probe = replayer.flights.tail(1)
    sent = stats.records_produced + stats.malformed_produced
    async with httpx.AsyncClient(timeout=10) as http, RegistryClient(stack.url("registry")) as reg:
        while time.monotonic() < deadline:
            accounted = observer.events.rows_ingested + len(observer.events.rejected)
            if accounted < sent:
                await asyncio.sleep(1)
                continue
            await replayer.predict(http, to_records(probe, labelled=False))
            champion = await reg.get_champion(pipeline)
            retrained = [
                v
                for v in await reg.list_models(pipeline)
                if v.trigger in LOOP_TRIGGERS and v.decision == "promoted"
            ]
            if champion and retrained and stats.last_served_version == champion.version:
                return
            await asyncio.sleep(2)


async def run_demo(config: DemoConfig, console: Console) -> DemoResult:
    """Run the whole demo; the result says whether (and why not) the loop closed."""
    started = time.monotonic()
    spec_text = config.spec_path.read_text()
    spec = parse_spec_yaml(spec_text)
    if config.home.exists():
        shutil.rmtree(config.home)
    config.home.mkdir(parents=True)

    kafka = None
    if config.bootstrap_servers:
        bootstrap = config.bootstrap_servers
        console.print(f"[bold]1/5[/bold] using Kafka at {bootstrap}")
    else:
        console.print(f"[bold]1/5[/bold] starting Kafka in {config.home / 'kafka'}")
        kafka = LocalKafka(config.home / "kafka", console=console).start(port=0)
        bootstrap = kafka.bootstrap_servers
    await ensure_topics(bootstrap, extra=[spec.source_topic])
    ports = config.ports or dict(zip(SERVICES, free_ports(len(SERVICES)), strict=True))
    stack = LocalStack(config.home, bootstrap, ports=ports, extra_env=dict(config.extra_env))
    observer = LoopObserver(bootstrap, pipeline=spec.name, keyring=stack.event_keyring)
    try:
        console.print(f"[bold]2/5[/bold] starting {', '.join(SERVICES)} as separate processes")
        await asyncio.to_thread(stack.start)
        for name in SERVICES:
            console.print(f"      {name:<9} {stack.url(name)}  log: {stack.running[name].log_path}")
        serving_pid = stack.running["serving"].process.pid
        spec_version = await _apply_spec(stack, spec_text, spec.name)
        console.print(f"[bold]3/5[/bold] applied pipeline {spec.name!r} (spec v{spec_version})")
        await observer.start()

        flights = await asyncio.to_thread(load_flights, config.months, config.every)
        console.print(
            f"[bold]4/5[/bold] replaying {len(flights):,} flights "
            f"(months {config.months[0]}-{config.months[1]}, {_sampling(config.every)}) "
            f"at {config.seconds_per_day}s per day"
        )
        replayer = Replayer(
            flights=flights,
            serving_url=stack.url("serving"),
            pipeline=spec.name,
            source_topic=spec.source_topic,
            bootstrap_servers=bootstrap,
            seconds_per_day=config.seconds_per_day,
        )
        progress = _Progress(console, observer)
        stats = await replayer.run(on_day=progress.on_day)
        console.print("[bold]5/5[/bold] replay done; waiting for the loop to settle")
        await _settle(
            stack, observer, stats, replayer, time.monotonic() + config.settle_seconds, spec.name
        )
        await asyncio.sleep(2)
        # The last labels can still buy a retrain after the settle: give serving a minute
        # to swap to a champion promoted meanwhile before judging that they differ.
        catch_up = time.monotonic() + 60
        while True:
            summary = await build_summary(
                stack=stack,
                observer=observer,
                stats=stats,
                pipeline=spec.name,
                seconds=time.monotonic() - started,
                serving_restarts=int(
                    stack.running["serving"].process.pid != serving_pid
                    or not stack.running["serving"].alive()
                ),
                probe=flights.tail(1),
            )
            if summary.served_version == summary.champion_version:
                break
            if time.monotonic() > catch_up:
                break
            await asyncio.sleep(2)
        kept = stack if config.keep_running else None
        return DemoResult(summary, _loop_closed(summary), observer.events, stats, config.home, kept)
    except BaseException:
        # The result is the only handle on a kept stack: without one, nobody could stop it.
        if config.keep_running:
            stack.stop()
        raise
    finally:
        await observer.stop()
        if not config.keep_running:
            stack.stop()
            if kafka is not None:
                kafka.stop()


def ordinal(n: int) -> str:
    """``1st``, ``2nd``, ``3rd``, ``4th``, ``11th``, ``22nd`` ..."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _sampling(every: int) -> str:
    return "every flight" if every == 1 else f"every {ordinal(every)} flight"


class _Progress:
    """One status line every few simulated days (works in a terminal and in CI logs).

    The status line has a fixed shape, so it stays under ~120 characters however long
    the run; each new model version gets a line of its own once, when first seen.
    """

    def __init__(self, console: Console, observer: LoopObserver, every_days: int = 7) -> None:
        self.console = console
        self.observer = observer
        self.every_days = every_days
        self.shown: set[int] = set()

    def on_day(self, stats: ReplayStats) -> None:
        if stats.days % self.every_days:
            return
        for line in new_version_lines(stats, self.observer.events, self.shown):
            self.console.print(line, highlight=False)
        self.console.print(progress_line(stats, self.observer.events), highlight=False)


def _count(n: int) -> str:
    """``987``, ``9,876``, ``98.8k``, ``1.23M``: at most six characters."""
    if n < 10_000:
        return f"{n:,}"
    if n < 1_000_000:
        return f"{n / 1000:.1f}k"
    return f"{n / 1_000_000:.2f}M"


def progress_line(stats: ReplayStats, seen: LoopEvents) -> str:
    """The replay's status: what was sent, what the services did, what serving answers."""
    return (
        f"  {stats.current_day}  sent {_count(stats.records_produced):>6}  "
        f"ingested {_count(seen.rows_ingested):>6}  rejected {_count(len(seen.rejected))}  "
        f"batches {_count(len(seen.batches))}  runs {_count(len(seen.trained))}  "
        f"drift {_count(len(seen.drift))}  serving v{stats.last_served_version or '-'}"
    )


def new_version_lines(stats: ReplayStats, seen: LoopEvents, shown: set[int]) -> list[str]:
    """One line per model version not in ``shown`` (which this adds them to)."""
    lines = []
    for r in sorted(seen.registered.values(), key=lambda r: r.version):
        if r.version in shown:
            continue
        shown.add(r.version)
        decision = "promoted" if r.decision == "promoted" else "rejected"
        auc = r.metrics.get("roc_auc", float("nan"))
        lines.append(
            f"  {stats.current_day}  model v{r.version} ({r.trigger}) auc {auc:.3f}: {decision}"
        )
    return lines
