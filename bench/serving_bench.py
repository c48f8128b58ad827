"""Serving throughput and latency with every prediction logged, beside a hand-written server.

    uv run python -m bench.serving_bench [--seconds 10] [--rollouts]

One command starts what it needs: a real Kafka (``continuum.localkafka``, free ports, a
temporary data dir), ``continuum.serving`` logging every prediction to it, and the
reference (a hand-written FastAPI route + the same model with a pandas DataFrame per
request, see :mod:`bench.serving_servers`). Each server runs alone while it is measured,
pinned to CPU 0; the load generator (this process: raw HTTP/1.1 keep-alive connections on
uvloop, much cheaper per request than an HTTP client library) and Kafka are pinned to
CPU 1, where the machine has two CPUs. Loads: 1 record per request over 64 connections,
100 records per request over 8. The log figures come from serving's own counters once
its log queue has drained. ``--rollouts`` also measures Continuum during a canary (50% of
entities on a second model) and a shadow rollout (a copy of every request predicted by
it), in a second table beside the direct figures of the same run. Prints the tables;
asserts nothing about time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import uvloop

from bench.serving_servers import make_record

ROOT = Path(__file__).resolve().parents[1]
PATH = "/v1/pipelines/flights/predict"
LOADS = ((1, 64), (100, 8))  # (records per request, connections)
SERVER_CPU, CLIENT_CPU = 0, 1
LOG_COUNTERS = (
    "continuum_serving_prediction_logs_published_total",
    "continuum_serving_prediction_logs_dropped_total",
    "continuum_serving_prediction_logs_failed_total",
)


def quantile(values: list[float], q: float) -> float:
    """The ``q`` quantile of ``values`` (the value at rank ``int(q * n)``; 0.0 when empty)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


@dataclass
class Result:
    """One load against one server."""

    requests: int
    failures: int
    seconds: float
    latencies: list[float]

    def p(self, q: float) -> float:
        """The ``q`` quantile of the latencies, in milliseconds."""
        return quantile(self.latencies, q) * 1000


class _Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection: one request in flight, responses by Content-Length."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.waiter: asyncio.Future[int] | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        head_end = self.buffer.find(b"\r\n\r\n")
        if head_end < 0 or self.waiter is None:
            return
        head = bytes(self.buffer[:head_end]).lower()
        start = head.index(b"content-length:") + len(b"content-length:")
        end = head.find(b"\r\n", start)
        length = int(head[start : end if end >= 0 else len(head)])
        if len(self.buffer) < head_end + 4 + length:
            return
        status = int(self.buffer[9:12])
        del self.buffer[: head_end + 4 + length]
        waiter, self.waiter = self.waiter, None
        waiter.set_result(status)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc or ConnectionError("closed"))

    async def send(self, raw: bytes) -> int:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(raw)
        return await self.waiter


def _requests(rows: int, count: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)  # noqa: S311
    out = []
    for _ in range(count):
        body = json.dumps({"records": [make_record(rng) for _ in range(rows)]}).encode()
        out.append(
            b"POST %s HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (PATH.encode(), len(body), body)
        )
    return out


async def _load(port: int, raw: list[bytes], connections: int, seconds: float) -> Result:
    loop = asyncio.get_running_loop()
    conns = [
        (await loop.create_connection(_Connection, "127.0.0.1", port))[1]
        for _ in range(connections)
    ]
    latencies: list[float] = []
    failures = 0
    deadline = time.perf_counter() + seconds

    async def worker(conn: _Connection, offset: int) -> None:
        nonlocal failures
        i = offset
        while time.perf_counter() < deadline:
            began = time.perf_counter()
            status = await conn.send(raw[i % len(raw)])
            latencies.append(time.perf_counter() - began)
            failures += status != 200
            i += connections

    began = time.perf_counter()
    await asyncio.gather(*(worker(c, n) for n, c in enumerate(conns)))
    wall = time.perf_counter() - began
    for conn in conns:
        assert conn.transport is not None
        conn.transport.close()
    return Result(len(latencies), failures, wall, latencies)


async def _get(port: int, path: str) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n".encode())
    data = await reader.read()
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head[9:12]), body


def _counter(text: str, name: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name + " ") or line.startswith(name + "{")
    )


async def _log_counters(port: int, predicted: int, limit: float = 120) -> dict[str, float]:
    """Serving's log counters once every prediction is accounted for (or ``limit`` passed)."""
    deadline = time.monotonic() + limit
    while True:
        text = (await _get(port, "/metrics"))[1].decode()
        counts = {name: _counter(text, name) for name in LOG_COUNTERS}
        if sum(counts.values()) >= predicted or time.monotonic() > deadline:
            counts["queued"] = predicted - sum(counts.values())
            return counts
        await asyncio.sleep(0.5)


async def _wait_ready(port: int, process: subprocess.Popen[bytes]) -> None:
    one = _requests(1, 1, seed=7)[0]
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            _, conn = await asyncio.get_running_loop().create_connection(
                _Connection, "127.0.0.1", port
            )
            status = await conn.send(one)
            assert conn.transport is not None
            conn.transport.close()
            if status == 200:
                return
        except OSError:
            pass  # not listening yet
        await asyncio.sleep(0.3)
    raise RuntimeError("server did not become ready")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def run_server(variant: str, kafka: str, seconds: float, pin: bool) -> dict[str, object]:
    """Start ``variant``, run every load against it, stop it; its figures."""
    port = _free_port()
    command = [sys.executable, "-m", "bench.serving_servers", variant, "--port", str(port)]
    command += ["--kafka", kafka] + (["--cpu", str(SERVER_CPU)] if pin else [])
    # One BLAS/OpenMP thread: the server has one core.
    env = os.environ | {"PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(command, cwd=ROOT, env=env)  # noqa: ASYNC220 - before timing
    figures: dict[str, object] = {}
    try:
        await _wait_ready(port, process)
        for rows, connections in LOADS:
            raw = _requests(rows, 2000 if rows == 1 else 300, seed=rows)
            await _load(port, raw, connections, min(2.0, seconds))  # warm-up
            result = await _load(port, raw, connections, seconds)
            figures[f"{rows}x{connections}"] = result
        if variant.startswith("continuum"):
            # Warm-ups are logged too: count every predicted record from the metrics.
            text = (await _get(port, "/metrics"))[1].decode()
            total = _counter(text, "continuum_serving_predictions_total")
            figures["logs"] = await _log_counters(port, int(total))
    finally:
        process.terminate()
        process.wait(timeout=60)
    return figures


@contextlib.contextmanager
def local_kafka() -> Iterator[tuple[str, bool]]:
    """A local Kafka in a temporary dir: its bootstrap servers, and whether to pin (two CPUs
    or more: this process and every Kafka thread then run on ``CLIENT_CPU``)."""
    from continuum.localkafka import LocalKafka

    pin = hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) >= 2
    with tempfile.TemporaryDirectory() as tmp:
        kafka = LocalKafka(Path(tmp) / "kafka").start(port=0)
        try:
            if pin:
                os.sched_setaffinity(0, {CLIENT_CPU})
                # Every JVM thread, not just the main one.
                subprocess.run(
                    ["taskset", "-a", "-p", "-c", str(CLIENT_CPU), str(kafka.pid)],
                    check=False, capture_output=True,
                )  # fmt: skip
            yield kafka.bootstrap_servers, pin
        finally:
            kafka.stop()


async def run_servers(
    variants: Sequence[str], seconds: float, rounds: int = 1
) -> list[dict[str, dict[str, object]]]:
    """Every load against each of ``variants`` in turn (:func:`run_server`), ``rounds``
    times, against one local Kafka; each round's figures by variant."""
    figures: list[dict[str, dict[str, object]]] = []
    with local_kafka() as (kafka, pin):
        for _ in range(rounds):
            figures.append({v: await run_server(v, kafka, seconds, pin) for v in variants})
    return figures


def load_label(rows: int, connections: int) -> str:
    """A load's name in the tables."""
    return f"{rows} record{'s' if rows > 1 else ''}, {connections} connections"


def _cell(figures: dict[str, object], key: str, rows: int) -> str:
    result = figures[key]
    assert isinstance(result, Result)
    rate = result.requests / result.seconds
    text = f"{rate:,.0f} req/s, p50 {result.p(0.5):.1f} ms, p99 {result.p(0.99):.1f} ms"
    if rows > 1:
        text += f" (≈ {rate * rows:,.0f} records/s)"
    return text + (f", {result.failures} failed" if result.failures else "")


def print_table(ours: dict[str, object], theirs: dict[str, object], seconds: float) -> None:
    """The issue's table: both servers per load, then serving's log counters."""
    print(f"\n{seconds:g} s per load, {os.cpu_count()} CPUs; server on CPU {SERVER_CPU}, "
          f"load generator and Kafka on CPU {CLIENT_CPU}\n")  # fmt: skip
    print("| | Continuum | hand-written FastAPI + the same model (pandas per request) |")
    print("|---|---|---|")
    for rows, connections in LOADS:
        key = f"{rows}x{connections}"
        label = load_label(rows, connections)
        print(f"| {label} | {_cell(ours, key, rows)} | {_cell(theirs, key, rows)} |")
    logs = ours["logs"]
    assert isinstance(logs, dict)
    published, dropped, failed, queued = (
        logs[LOG_COUNTERS[0]], logs[LOG_COUNTERS[1]], logs[LOG_COUNTERS[2]], logs["queued"]
    )  # fmt: skip
    total = published + dropped + failed + queued
    print(
        f"| prediction logs (all loads) | {published:,.0f} published, {dropped:,.0f} dropped "
        f"({dropped / max(total, 1):.1%}), {failed:,.0f} failed, {queued:,.0f} still queued | - |"
    )


def print_rollouts(figures: dict[str, dict[str, object]]) -> None:
    """Continuum without a rollout, during a canary and during a shadow, per load."""
    print("\n| | direct | canary (50% of entities) | shadow (every request copied) |")
    print("|---|---|---|---|")
    for rows, connections in LOADS:
        key = f"{rows}x{connections}"
        label = load_label(rows, connections)
        cells = " | ".join(_cell(figures[v], key, rows) for v in ROLLOUT_VARIANTS)
        print(f"| {label} | {cells} |")
    logs = []
    for variant in ROLLOUT_VARIANTS:
        counts = figures[variant]["logs"]
        assert isinstance(counts, dict)
        logs.append(
            f"{counts[LOG_COUNTERS[0]]:,.0f} published, {counts[LOG_COUNTERS[1]]:,.0f} dropped"
        )
    print(f"| prediction logs (all loads) | {' | '.join(logs)} |")


ROLLOUT_VARIANTS = ("continuum", "continuum-canary", "continuum-shadow")


async def main_async(args: argparse.Namespace) -> None:
    variants = ["continuum", "baseline", *(ROLLOUT_VARIANTS[1:] if args.rollouts else ())]
    (figures,) = await run_servers(variants, args.seconds)
    print_table(figures["continuum"], figures["baseline"], args.seconds)
    if args.rollouts:
        print_rollouts({variant: figures[variant] for variant in ROLLOUT_VARIANTS})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="per load and server")
    parser.add_argument(
        "--rollouts", action="store_true", help="also measure during a canary and a shadow"
    )
    args = parser.parse_args()
    uvloop.run(main_async(args))


if __name__ == "__main__":
    main()
