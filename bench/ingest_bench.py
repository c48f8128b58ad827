"""Ingest throughput beside a raw Kafka consumer, on the same broker and the same records.

    uv run python -m bench.ingest_bench [--valid 200000] [--invalid 1000]

One command starts what it needs: a real Kafka (``continuum.localkafka``, free ports, a
temporary data dir), the flights source topic (3 partitions, the local broker's default),
and produces flights-like records to it: ``--valid`` records the flights spec accepts and
``--invalid`` it refuses (out of range, unknown category, not JSON, a string for a
number, no event time), spread over the partitions. Valid records per partition are a
multiple of the spec's ``flush_rows`` and every invalid record comes before a partition's
last valid one, so the last batch is written because it is full, not by the flush timer.

Then, one after the other, each pinned to CPU 0 with Kafka on CPU 1 (where the machine
has two CPUs):

* kcat (if installed) reading every record to the end of each partition (wall time of
  the process, start-up included);
* a raw aiokafka consumer (assigned partitions, large fetches, no decoding): its first
  fetch to the last record;
* Continuum's ingest (:mod:`bench.ingest_runner`, a process running the real service):
  first record handed to the engine to the commit that covers every offset, i.e. every
  valid row in a durable, announced Parquet batch and every invalid one dead-lettered.

Ingest runs without the spec's feature views and with them (``--views both|off|on``;
``--repeat N`` runs each N times, and kcat and the raw consumer N times too, their best
run being the bar), each from offset 0 in its own consumer group, store and state
directory. ``--py-spy OUT`` runs ingest under ``py-spy record`` (collapsed
stacks in OUT, OUT.views for the run with views; py-spy is not a project dependency:
``uv tool install py-spy``). Prints the table (wall records/s and records per CPU-second
of the process, each beside the raw consumer's; wall seconds inside the engine's handle,
its batch writes and commits) and checks the store holds each valid record exactly once.
Asserts nothing about time. Other processes on the machine (tests, other benches) add
noise, to wall time far more than to CPU time: run it twice and compare.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SPEC_PATH = ROOT / "examples" / "pipelines" / "flights.yaml"
TOPIC = "flights.events"
PARTITIONS = 3
FLUSH_ROWS = 2000  # examples/pipelines/flights.yaml's ingest.flush_rows
WORK_CPU, KAFKA_CPU = 0, 1
CARRIERS = ("UA", "AA", "B6", "DL", "EV", "MQ", "US", "WN", "VX", "FL", "AS", "9E")
START = datetime(2013, 1, 1, 5, tzinfo=UTC)


def valid_record(rng: random.Random, i: int) -> dict[str, Any]:
    """One flights record the spec accepts (weather fields sometimes missing, as in the data)."""
    when = START + timedelta(hours=i // 40)
    record: dict[str, Any] = {
        "flight_id": f"{rng.choice(CARRIERS)}{rng.randrange(1, 5000)}-{i}",
        "time_hour": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "dep_hour": when.hour,
        "day_of_week": when.weekday(),
        "distance": float(rng.randrange(80, 4983)),
        "temp": round(rng.uniform(10, 100), 2),
        "dewp": round(rng.uniform(-10, 80), 2),
        "humid": round(rng.uniform(10, 100), 2),
        "wind_speed": round(rng.uniform(0, 40), 3),
        "precip": 0.0 if rng.random() < 0.9 else round(rng.uniform(0, 1), 2),
        "visib": 10.0,
        "carrier": rng.choice(CARRIERS),
        "origin": rng.choice(("EWR", "JFK", "LGA")),
        "delayed": int(rng.random() < 0.2),
    }
    if rng.random() < 0.02:
        record["temp"] = record["dewp"] = record["humid"] = None
    return record


def invalid_value(rng: random.Random, i: int) -> bytes:
    """A record the spec refuses, one of a few kinds."""
    record = valid_record(rng, i)
    kind = i % 5
    if kind == 0:
        record["humid"] = 140.0
    elif kind == 1:
        record["origin"] = "BOS"
    elif kind == 2:
        return b'{"flight_id": "UA1", "distance": 1089'
    elif kind == 3:
        record["distance"] = "1089"
    else:
        del record["time_hour"]
    return json.dumps(record).encode()


def plan(valid: int, invalid: int, seed: int = 7) -> dict[int, list[bytes]]:
    """The values of each partition, in order."""
    rng = random.Random(seed)  # noqa: S311 - test data, not secrets
    batches = valid // FLUSH_ROWS
    values: dict[int, list[bytes]] = {}
    index = 0
    for p in range(PARTITIONS):
        count = (batches // PARTITIONS + (p < batches % PARTITIONS)) * FLUSH_ROWS
        bad = invalid // PARTITIONS + (p < invalid % PARTITIONS)
        rows = [json.dumps(valid_record(rng, index + k)).encode() for k in range(count)]
        for k in range(bad):  # spread, but always before the last valid record
            at = rng.randrange(0, max(len(rows) - 1, 1))
            rows.insert(at, invalid_value(rng, index + k))
        index += count
        values[p] = rows
    return values


async def produce(bootstrap: str, values: dict[int, list[bytes]]) -> None:
    from aiokafka import AIOKafkaProducer
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(TOPIC, PARTITIONS, 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=1 << 20)
    await producer.start()
    try:
        for p, rows in values.items():
            futures = [await producer.send(TOPIC, value, partition=p) for value in rows]
            await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def raw_consumer(bootstrap: str, total: int) -> tuple[float, float]:
    """Seconds (wall, process CPU) a plain aiokafka consumer takes from its first fetch to
    the last record."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        max_partition_fetch_bytes=16 << 20,
        fetch_max_bytes=64 << 20,
    )
    await consumer.start()
    try:
        consumer.assign([TopicPartition(TOPIC, p) for p in range(PARTITIONS)])
        await consumer.seek_to_beginning()
        seen, first, first_cpu = 0, time.monotonic(), time.process_time()
        while seen < total:
            batch = await consumer.getmany(timeout_ms=1000, max_records=50_000)
            seen += sum(len(records) for records in batch.values())
        return time.monotonic() - first, time.process_time() - first_cpu
    finally:
        await consumer.stop()


def pin_prefix(pin: bool) -> list[str]:
    return ["taskset", "-c", str(WORK_CPU)] if pin else []


def run_kcat(bootstrap: str, total: int, pin: bool) -> float | None:
    if shutil.which("kcat") is None:
        return None
    argv = [*pin_prefix(pin), "kcat", "-C", "-b", bootstrap, "-t", TOPIC]
    argv += ["-o", "beginning", "-e", "-q", "-f", "%o\n"]
    started = time.monotonic()
    out = subprocess.run(argv, check=True, capture_output=True).stdout
    seconds = time.monotonic() - started
    assert out.count(b"\n") == total, "kcat did not read every record"
    return seconds


def run_raw(bootstrap: str, total: int, pin: bool) -> tuple[float, float]:
    code = (
        "import asyncio, sys, uvloop; from bench.ingest_bench import raw_consumer; "
        f"print(*uvloop.run(raw_consumer({bootstrap!r}, {total})))"
    )
    out = subprocess.run(
        [*pin_prefix(pin), sys.executable, "-c", code], check=True, capture_output=True, cwd=ROOT
    )
    wall, cpu = out.stdout.decode().strip().splitlines()[-1].split()
    return float(wall), float(cpu)


def run_ingest(
    bootstrap: str, ends: dict[int, int], work: Path, pin: bool, profile: str | None, views: bool
) -> dict[str, Any]:
    """One ingest run from offset 0 in its own consumer group, store and state directory."""
    spy = ["py-spy", "record", "-r", "250", "-f", "raw", "-o", profile, "--"] if profile else []
    argv = [*pin_prefix(pin), *spy, sys.executable, "-m", "bench.ingest_runner"]
    argv += ["--bootstrap", bootstrap, "--data-root", (work / "data").as_uri()]
    argv += ["--spec", str(SPEC_PATH), "--topic", TOPIC, "--expect", json.dumps(ends)]
    argv += ["--state-dir", str(work / "state"), "--group", f"continuum-ingest-bench-{work.name}"]
    argv += [] if views else ["--no-views"]
    env = {**os.environ, "CONTINUUM_KAFKA_EVENT_KEY": "bench-" + os.urandom(16).hex()}
    out = subprocess.run(argv, check=True, capture_output=True, cwd=ROOT, env=env)
    lines = [line for line in out.stdout.decode().splitlines() if line.startswith("{")]
    result: dict[str, Any] = json.loads(lines[-1])  # py-spy writes its own lines too
    return result


def check_store(result: dict[str, Any], valid_per_partition: dict[int, int]) -> str:
    expected = {str(p): n for p, n in valid_per_partition.items()}
    if result["rows"] == expected and result["distinct"] == expected:
        return "every valid record stored exactly once"
    return f"MISMATCH: rows {result['rows']}, distinct {result['distinct']}, wanted {expected}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--valid", type=int, default=200_000, help="rounded down to 2,000s")
    parser.add_argument("--invalid", type=int, default=1_000)
    parser.add_argument(
        "--views",
        choices=("both", "off", "on"),
        default="both",
        help="ingest without the spec's feature views, with them (if it has any), or both",
    )
    parser.add_argument(
        "--py-spy", metavar="OUT", help="profile ingest into OUT (py-spy raw; OUT.views too)"
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="ingest runs per setting (references: best of N)"
    )
    args = parser.parse_args()
    from continuum.cli.topics_setup import ensure_topics
    from continuum.localkafka import LocalKafka

    values = plan(args.valid, args.invalid)
    total = sum(len(v) for v in values.values())
    ends = {p: len(v) for p, v in values.items()}
    valid = {p: len(v) - (args.invalid // PARTITIONS + (p < args.invalid % PARTITIONS))
             for p, v in values.items()}  # fmt: skip
    pin = hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) >= 2
    with tempfile.TemporaryDirectory() as tmp:
        kafka = LocalKafka(Path(tmp) / "kafka").start(port=0)
        try:
            if pin:
                subprocess.run(
                    ["taskset", "-a", "-p", "-c", str(KAFKA_CPU), str(kafka.pid)],
                    check=False, capture_output=True,
                )  # fmt: skip
            bootstrap = kafka.bootstrap_servers
            import uvloop

            # Continuum's topics exist before ingest runs, as a deployment provisions them
            # (`continuum kafka` / the compose job); else the first run's first batch event
            # and rejection wait for the broker to create their topics.
            uvloop.run(ensure_topics(bootstrap))
            uvloop.run(produce(bootstrap, values))
            # The references run as often as ingest does; their best run is the bar
            # (the conservative choice on a noisy machine).
            kcats = [run_kcat(bootstrap, total, pin) for _ in range(args.repeat)]
            kcat = min((k for k in kcats if k is not None), default=None)
            raw, raw_cpu = min(run_raw(bootstrap, total, pin) for _ in range(args.repeat))
            settings = {"off": [False], "on": [True], "both": [False, True]}[args.views]
            runs: list[tuple[bool, dict[str, Any]]] = []
            for k in range(args.repeat):
                for views in settings:
                    work = Path(tmp) / f"ingest-{k}-{'views' if views else 'plain'}"
                    profile = args.py_spy and (args.py_spy + (".views" if views else ""))
                    runs.append(
                        (views, run_ingest(bootstrap, ends, work, pin, profile or None, views))
                    )
        finally:
            kafka.stop()
    print(f"\n{sum(valid.values()):,} valid + {args.invalid:,} invalid records, "
          f"{PARTITIONS} partitions, pinned: {pin}")  # fmt: skip
    for _, ingest in runs:
        stages = ", ".join(f"{k} {v:.2f}" for k, v in ingest["stages"].items())
        print(f"ingest ({ingest['views']} views): {ingest['batches']} batches; "
              f"{check_store(ingest, valid)}; wall s in {stages}; start-up "
              f"{ingest['startup_seconds']:.2f} s ({ingest['blocked_polls']} polls before "
              "the spec was in force, not counted)")  # fmt: skip
    # Records per CPU-second of the process (all its threads) is steadier than wall time
    # on a shared machine: other work on the pinned CPU stretches wall time, not CPU time.
    print("\n| | records/s | seconds | share of raw aiokafka | share of kcat | "
          "records/CPU-s | share of raw aiokafka (CPU) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")

    def of_kcat(seconds: float) -> str:
        return "-" if kcat is None else f"{kcat / seconds:.0%}"

    for views, ingest in runs:
        what = f"with {ingest['views']} feature view(s)" if views else "no feature views"
        cpu = ingest["cpu_seconds"]
        print(f"| Continuum ingest, {what} (validated, Parquet durable, committed) | "
              f"{total / ingest['seconds']:,.0f} | {ingest['seconds']:.2f} | "
              f"{raw / ingest['seconds']:.0%} | {of_kcat(ingest['seconds'])} | "
              f"{total / cpu:,.0f} | {raw_cpu / cpu:.0%} |")  # fmt: skip
    print(f"| raw aiokafka consumer | {total / raw:,.0f} | {raw:.2f} | 100% | {of_kcat(raw)} | "
          f"{total / raw_cpu:,.0f} | 100% |")  # fmt: skip
    if kcat is not None:
        print(f"| kcat (process wall time) | {total / kcat:,.0f} | {kcat:.2f} | "
              f"{raw / kcat:.0%} | 100% | - | - |")  # fmt: skip


if __name__ == "__main__":
    main()
