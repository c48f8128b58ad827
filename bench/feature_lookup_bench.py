"""Online feature lookups: one entity's read latency per store, and serving with vs without.

    uv run python -m bench.feature_lookup_bench [--reads 20000] [--seconds 10]

Part 1: the online store's ``read`` of one entity (what serving does per micro-batch and
view when a batch holds one entity), against an SQLite file and a throwaway
``redis-server`` (Debian's package, as the project setup installs it), each holding
10,000 entities of a two-feature view; p50/p99 over ``--reads`` reads of random entities,
and the same for a read of 100 entities. Part 2: ``continuum.serving`` on the same
flights-like model without a feature view and with one read from SQLite per micro-batch
(:mod:`bench.serving_servers`: ``continuum`` and ``continuum-views``), one after the
other in this run (alternating, ``--rounds`` times), through :mod:`bench.serving_bench`'s
loads and pinning. Prints the
figures; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import uvloop

from bench.serving_bench import (
    CLIENT_CPU,
    LOADS,
    SERVER_CPU,
    _cell,
    load_label,
    quantile,
    run_servers,
)
from continuum.featurestore import FeatureRow, OnlineStore, open_online_store, view_key

ENTITIES = 10_000
VIEW = view_key("flights", "carrier_recent")


def _fill(store: OnlineStore) -> None:
    now = datetime.now(UTC)
    rng = random.Random(0)  # noqa: S311
    rows = [
        FeatureRow(f"e{i}", now, {"carrier_rate": rng.random(), "carrier_flights": 200.0})
        for i in range(ENTITIES)
    ]
    store.write(VIEW, rows)


def _quantiles(seconds: list[float]) -> tuple[float, float]:
    return statistics.median(seconds) * 1e6, quantile(seconds, 0.99) * 1e6


def measure_reads(store: OnlineStore, reads: int, per_read: int) -> tuple[float, float]:
    """p50 and p99 (microseconds) of ``store.read`` of ``per_read`` random stored entities."""
    rng = random.Random(1)  # noqa: S311
    keys = [[f"e{rng.randrange(ENTITIES)}" for _ in range(per_read)] for _ in range(reads)]
    for batch in keys[:200]:  # warm-up: connection, caches
        store.read(VIEW, batch)
    timings = []
    for batch in keys:
        started = time.perf_counter()
        found = store.read(VIEW, batch)
        timings.append(time.perf_counter() - started)
        assert len(found) == len(set(batch))
    return _quantiles(timings)


def store_figures(reads: int) -> dict[str, dict[int, tuple[float, float]]]:
    """Read latencies for one and 100 entities, per backend."""
    from tests.throwaway_redis import throwaway_redis

    figures: dict[str, dict[int, tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp, throwaway_redis() as redis:
        for name, uri in (
            ("SQLite (WAL file)", f"sqlite:///{Path(tmp) / 'online.db'}"),
            ("Redis (local redis-server)", redis.uri()),
        ):
            store = open_online_store(uri)
            try:
                _fill(store)
                sizes = {1: reads, 100: max(1, reads // 10)}  # reads per batch size
                figures[name] = {n: measure_reads(store, k, n) for n, k in sizes.items()}
            finally:
                store.close()
    return figures


async def serving_figures(
    seconds: float, rounds: int
) -> list[tuple[dict[str, object], dict[str, object]]]:
    """Serving without and with the feature view, against one Kafka, alternating
    ``rounds`` times (a neighbour's burst on a shared machine then hits one round, not
    one variant)."""
    runs = await run_servers(("continuum", "continuum-views"), seconds, rounds)
    return [(run["continuum"], run["continuum-views"]) for run in runs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=20_000, help="one-entity reads per store")
    parser.add_argument("--seconds", type=float, default=10.0, help="per serving load")
    parser.add_argument("--rounds", type=int, default=2, help="serving rounds (alternating)")
    parser.add_argument("--skip-serving", action="store_true", help="store reads only")
    args = parser.parse_args()

    figures = store_figures(args.reads)
    print(f"\nOnline store read, {ENTITIES:,} entities stored, {os.cpu_count()} CPUs\n")
    print("| store | 1 entity: p50 / p99 | 100 entities: p50 / p99 |")
    print("|---|---|---|")
    for name, by_size in figures.items():
        cells = [f"{by_size[n][0]:.0f} µs / {by_size[n][1]:.0f} µs" for n in (1, 100)]
        print(f"| {name} | {cells[0]} | {cells[1]} |")
    if args.skip_serving:
        return
    rounds = uvloop.run(serving_figures(args.seconds, args.rounds))
    print(f"\nServing, {args.seconds:g} s per load; server on CPU {SERVER_CPU}, load on CPU "
          f"{CLIENT_CPU}; with the view: one SQLite read per micro-batch\n")  # fmt: skip
    print("| load (round) | without feature view | with feature view (enriched) |")
    print("|---|---|---|")
    for rows, connections in LOADS:
        key = f"{rows}x{connections}"
        label = load_label(rows, connections)
        for n, (plain, views) in enumerate(rounds, 1):
            print(f"| {label} ({n}) | {_cell(plain, key, rows)} | {_cell(views, key, rows)} |")


if __name__ == "__main__":
    main()
