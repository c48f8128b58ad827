"""The demo's summary: a table for people and a JSON file (``DEMO_SUMMARY``) for machines."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from continuum.cli.demo.observer import LoopObserver
from continuum.cli.demo.replay import ReplayStats
from continuum.cli.flights_data import to_records
from continuum.cli.stack import LocalStack
from continuum.registry_client import RegistryClient


@dataclass
class DemoSummary:
    """What the demo showed; ``model_versions`` rows carry version, trigger, metrics, promoted."""

    model_versions: list[dict[str, Any]]
    drift_events: list[dict[str, Any]]
    champion_version: int | None
    served_version: int | None
    seconds: float
    versions_served: dict[int, int] = field(default_factory=dict)
    records_produced: int = 0
    malformed_produced: int = 0
    rows_ingested: int = 0
    records_rejected: int = 0
    batches: int = 0
    predictions: int = 0
    failed_requests: int = 0
    serving_restarts: int = 0
    signal_to_serving_seconds: float | None = None
    """From the monitor's event that started the first loop retrain to serving using it."""
    feedback_sent: int = 0
    quality_events: int = 0
    last_live_quality: dict[str, Any] | None = None

    def write(self, path: Path) -> None:
        """Write the JSON summary."""
        path.write_text(json.dumps(asdict(self), indent=2, default=str))


async def build_summary(
    *,
    stack: LocalStack,
    observer: LoopObserver,
    stats: ReplayStats,
    pipeline: str,
    seconds: float,
    serving_restarts: int,
    probe: Any = None,
) -> DemoSummary:
    """Gather the summary from the registry, a live prediction and what the observer saw."""
    async with RegistryClient(stack.url("registry")) as registry:
        versions = await registry.list_models(pipeline)
        champion = await registry.get_champion(pipeline)
    events = observer.events
    drift = sorted(events.drift.values(), key=lambda d: d.occurred_at)
    quality = sorted(events.quality.values(), key=lambda q: q.occurred_at)
    served = stats.last_served_version
    if probe is not None:
        async with httpx.AsyncClient(timeout=10) as http:
            record = to_records(probe, labelled=False)[0]
            response = await http.post(
                f"{stack.url('serving')}/v1/pipelines/{pipeline}/predict",
                json={"records": [record]},
            )
            if response.status_code == 200:
                served = int(response.json()["model_version"])
    rows = [
        {
            "version": v.version,
            "trigger": v.trigger,
            "metrics": v.metrics,
            "champion_metrics": v.champion_metrics,
            "promoted": v.decision == "promoted",
            "decision_reason": v.decision_reason,
            "training_seconds": v.training_seconds,
            "batches": len(v.data_version.batch_ids) if v.data_version else None,
        }
        for v in versions
    ]
    latency = _signal_to_serving(versions, drift, quality, stats)
    return DemoSummary(
        model_versions=rows,
        drift_events=[
            {
                "model_version": d.model_version,
                "drift_share": round(d.drift_share, 3),
                "drifted_columns": [c.column for c in d.columns if c.drifted],
                "window_end": d.window_end.isoformat(),
                "occurred_at": d.occurred_at.isoformat(),
            }
            for d in drift
        ],
        champion_version=champion.version if champion else None,
        served_version=served,
        seconds=round(seconds, 1),
        versions_served=dict(stats.served_versions),
        records_produced=stats.records_produced,
        malformed_produced=stats.malformed_produced,
        rows_ingested=events.rows_ingested,
        records_rejected=len(events.rejected),
        batches=len(events.batches),
        predictions=stats.predictions,
        failed_requests=stats.failed_requests,
        serving_restarts=serving_restarts,
        signal_to_serving_seconds=round(latency, 1) if latency is not None else None,
        feedback_sent=stats.feedback_sent,
        quality_events=len(quality),
        last_live_quality=(
            {
                "model_version": quality[-1].model_version,
                "metric": quality[-1].metric,
                "value": round(quality[-1].value, 4),
                "std_error": round(quality[-1].std_error, 4),
                "rows": quality[-1].rows,
            }
            if quality
            else None
        ),
    )


def _signal_to_serving(
    versions: list[Any], drift: list[Any], quality: list[Any], stats: ReplayStats
) -> float | None:
    """Seconds from the monitor event (live quality or drift) just before the first
    version it retrained to serving's first answer with that version."""
    for version in versions:
        if version.decision != "promoted" or version.trigger not in ("quality", "drift"):
            continue
        signals = quality if version.trigger == "quality" else drift
        before = [e for e in signals if e.occurred_at <= version.created_at]
        served_at = stats.first_served_at.get(version.version)
        if before and served_at:
            return float(served_at - before[-1].occurred_at.timestamp())
        return None
    return None


def print_summary(summary: DemoSummary, console: Console) -> None:
    """The summary as tables."""
    table = Table(title="Model versions")
    for column in ("version", "trigger", "roc_auc", "champion, same holdout", "promoted", "why"):
        table.add_column(column)
    for row in summary.model_versions:
        champion = row["champion_metrics"].get("roc_auc")
        table.add_row(
            f"v{row['version']}",
            row["trigger"],
            f"{row['metrics'].get('roc_auc', float('nan')):.4f}",
            f"{champion:.4f}" if champion is not None else "-",
            "yes" if row["promoted"] else "no",
            row["decision_reason"].split(":")[0],
        )
    console.print(table)
    facts = Table(title="The loop", show_header=False)
    facts.add_column("what")
    facts.add_column("value")
    for what, value in (
        (
            "records produced (+ malformed ones)",
            f"{summary.records_produced:,} (+ {summary.malformed_produced})",
        ),
        ("rows ingested / batches", f"{summary.rows_ingested:,} / {summary.batches}"),
        ("records rejected", str(summary.records_rejected)),
        ("predictions served", f"{summary.predictions:,}"),
        ("failed prediction requests", str(summary.failed_requests)),
        ("drift events", str(len(summary.drift_events))),
        ("labels sent (feedback) / live quality windows", _quality_line(summary)),
        ("champion (registry)", f"v{summary.champion_version}"),
        ("serving answers with", f"v{summary.served_version}"),
        (
            "versions served (requests)",
            ", ".join(f"v{k}: {v}" for k, v in sorted(summary.versions_served.items())),
        ),
        ("monitor signal → serving retrained model", f"{summary.signal_to_serving_seconds} s"),
        ("wall time", f"{summary.seconds:.0f} s"),
    ):
        facts.add_row(what, value)
    console.print(facts)


def _quality_line(summary: DemoSummary) -> str:
    line = f"{summary.feedback_sent:,} / {summary.quality_events}"
    last = summary.last_live_quality
    if last:
        line += (
            f" (last: v{last['model_version']} {last['metric']} {last['value']:.4f}"
            f" ± {last['std_error']:.4f} on {last['rows']} rows)"
        )
    return line
