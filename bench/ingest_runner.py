"""Ingest as it runs in production, in its own process, timed for the ingest benchmark.

    python -m bench.ingest_runner --bootstrap HOST:PORT --data-root file:///... --spec PATH
        --topic T --expect '{"0": 68500, ...}' --state-dir DIR [--no-views]

Builds the service with ``continuum.ingest.bootstrap.build`` (the real consumer loop,
engine, Parquet writer, signed event producer and offset committer) and a
:class:`~continuum.registry_client.testing.FakeRegistry` serving the spec (ingest only
reads specs from the registry; ``--no-views`` drops the spec's ``feature_views`` so
ingest's own cost can be told from the views' fold). The only additions are two
observers: the monotonic (and process CPU) time the engine is first handed records, and
the time a commit reaches the end offsets the bench produced (every record durable,
announced and committed). It then stops the service and prints one JSON line: those
times and what the store holds (rows and distinct offsets per partition, so the bench
can check nothing was lost or duplicated).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import logging
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import uvloop

from continuum.contracts import PipelineSpec, parse_spec_yaml
from continuum.ingest.bootstrap import build
from continuum.ingest.lanes import TopicPartition
from continuum.ingest.settings import IngestSettings
from continuum.kafka import KafkaSettings
from continuum.registry_client.testing import FakeRegistry
from continuum.runtime import tune_gc_for_throughput
from continuum.storage import open_store


class Observed:
    """When ingest first saw records and when its commits covered everything."""

    def __init__(self, expect: Mapping[TopicPartition, int]) -> None:
        self.expect = dict(expect)
        self.first: float | None = None
        self.first_cpu = 0.0
        self.done = asyncio.Event()
        self.done_at: float | None = None
        self.done_cpu = 0.0
        self.committed: dict[TopicPartition, int] = {}
        self.blocked_polls = 0
        """Polls handed back before the spec was in force (not counted in the window)."""
        self.stages = {"handle": 0.0, "write": 0.0, "commit": 0.0}
        """Wall seconds inside the engine's handle, its wait for batch writes, its commits."""


def observe(parts: Any, observed: Observed) -> None:
    """Wrap the engine's ``handle`` and the committer's ``commit`` to take the two times."""
    engine = parts.service.engine
    handle, commit = engine.handle, engine.committer.commit
    writer = getattr(engine, "writer", None)  # older engines wrote batches inline

    async def timed_handle(messages: Any, *args: Any, **kwargs: Any) -> Any:
        started, started_cpu = time.monotonic(), time.process_time()
        try:
            blocked = await handle(messages, *args, **kwargs)
        finally:
            observed.stages["handle"] += time.monotonic() - started
        # The window opens at the first poll the engine could check: one that came before
        # the spec was in force was handed back (and is read again), so start-up (the
        # spec's compile) is not counted as if it were ingest work.
        if observed.first is None and messages and not blocked:
            observed.first, observed.first_cpu = started, started_cpu
        elif observed.first is None and blocked:
            observed.blocked_polls += 1
        return blocked

    async def timed_commit(offsets: Mapping[TopicPartition, int]) -> None:
        started = time.monotonic()
        await commit(offsets)
        observed.stages["commit"] += time.monotonic() - started
        observed.committed.update(offsets)
        if all(observed.committed.get(tp, -1) >= end for tp, end in observed.expect.items()):
            observed.done_at, observed.done_cpu = time.monotonic(), time.process_time()
            observed.done.set()

    engine.handle = timed_handle
    engine.committer.commit = timed_commit
    if writer is not None:
        # What a step waits for at its end: batch writes (and rejections) not yet durable.
        name = "durable" if hasattr(writer, "durable") else "write"
        write = getattr(writer, name)

        async def timed_write(*args: Any, **kwargs: Any) -> None:
            started = time.monotonic()
            await write(*args, **kwargs)
            observed.stages["write"] += time.monotonic() - started

        setattr(writer, name, timed_write)


def stored_rows(data_root: str, pipeline: str) -> dict[str, Any]:
    """Rows, distinct source offsets and batches in the store, per partition."""
    store = open_store(data_root)
    rows: dict[int, int] = {}
    offsets: dict[int, set[int]] = {}
    keys = [k for k in store.list(f"batches/{pipeline}/") if k.endswith(".parquet")]
    for key in keys:
        table = pq.read_table(io.BytesIO(store.get(store.uri_for(key))))
        for part, off in zip(
            table.column("_source_partition").to_pylist(),
            table.column("_source_offset").to_pylist(),
            strict=True,
        ):
            rows[part] = rows.get(part, 0) + 1
            offsets.setdefault(part, set()).add(off)
    return {
        "batches": len(keys),
        "rows": {str(p): n for p, n in sorted(rows.items())},
        "distinct": {str(p): len(s) for p, s in sorted(offsets.items())},
    }


async def run(args: argparse.Namespace, spec: PipelineSpec) -> dict[str, Any]:
    registry = FakeRegistry()
    registry.apply(spec)
    settings = IngestSettings(
        kafka=KafkaSettings(bootstrap_servers=args.bootstrap),
        data_root=args.data_root,
        group_id=args.group,
        # Fresh view state per run: a state left by an earlier run would skip the folds.
        state_dir=Path(args.state_dir),
        online_store_uri="",
    )
    parts = build(settings, registry=registry.client())
    expect = {TopicPartition(args.topic, int(p)): n for p, n in json.loads(args.expect).items()}
    observed = Observed(expect)
    observe(parts, observed)
    started = time.monotonic()
    tune_gc_for_throughput(settings.gc_gen0_threshold)  # as the app's lifespan does
    await parts.service.start()
    try:
        await asyncio.wait_for(observed.done.wait(), timeout=args.timeout)
    finally:
        await parts.service.stop()
    assert observed.first is not None and observed.done_at is not None
    return {
        "views": len(spec.feature_views),
        "seconds": observed.done_at - observed.first,
        "cpu_seconds": observed.done_cpu - observed.first_cpu,
        "stages": observed.stages,
        "startup_seconds": observed.first - started,
        "blocked_polls": observed.blocked_polls,
        **stored_rows(args.data_root, spec.name),
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--data-root", required=True)
    parser.add_argument("--spec", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--group", default="continuum-ingest-bench")
    parser.add_argument("--expect", required=True, help="JSON: partition -> end offset")
    parser.add_argument("--state-dir", required=True, help="ingest's state (view state, online)")
    parser.add_argument("--no-views", action="store_true", help="drop the spec's feature views")
    parser.add_argument("--flush-seconds", type=float, default=60.0, help="the spec's, replaced")
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    spec = parse_spec_yaml(Path(args.spec).read_text())
    # Batches cut by flush_rows alone: a timer flush mid-run (a partition the consumer did
    # not poll for flush_seconds) shifts every later cut of that lane, and its last batch
    # then waits for the timer, adding flush_seconds of idle time to the figure.
    ingest = spec.ingest.model_copy(update={"flush_seconds": args.flush_seconds})
    spec = spec.model_copy(update={"ingest": ingest})
    if args.no_views:
        spec = spec.model_copy(update={"feature_views": []})
    result = uvloop.run(run(args, spec))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
