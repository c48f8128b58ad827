"""A real consumer process for the at-least-once test: applies amounts to a ledger.

Run as ``python ledger_consumer.py <bootstrap> <topic> <group> <sqlite path>``. Each
event adds its amount to a balance exactly once: the event id and the new balance are
written in one SQLite transaction, and the handler returns (so the offset is committed)
only after that transaction is durable. Killing this process at any moment must lose
nothing and apply nothing twice.
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import sys

from prometheus_client import CollectorRegistry

from continuum.contracts import TrainingRequested
from continuum.kafka import KafkaSettings, build_broker


def open_ledger(path: str) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE IF NOT EXISTS applied (event_id TEXT PRIMARY KEY)")
    db.execute("CREATE TABLE IF NOT EXISTS deliveries (n INTEGER)")
    db.execute("CREATE TABLE IF NOT EXISTS balance (id INTEGER PRIMARY KEY, total INTEGER)")
    db.execute("INSERT OR IGNORE INTO balance VALUES (1, 0)")
    return db


def apply(db: sqlite3.Connection, event: TrainingRequested) -> None:
    amount = int(event.reason)
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute("INSERT INTO deliveries VALUES (1)")
        seen = db.execute(
            "SELECT 1 FROM applied WHERE event_id = ?", (str(event.event_id),)
        ).fetchone()
        if not seen:
            db.execute("INSERT INTO applied VALUES (?)", (str(event.event_id),))
            db.execute("UPDATE balance SET total = total + ? WHERE id = 1", (amount,))
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


async def main(bootstrap: str, topic: str, group: str, path: str) -> None:
    db = open_ledger(path)
    broker = build_broker(
        KafkaSettings(bootstrap_servers=bootstrap), service="ledger", registry=CollectorRegistry()
    )

    @broker.subscriber(topic, group_id=group, auto_offset_reset="earliest")
    async def handle(event: TrainingRequested) -> None:
        apply(db, event)

    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await broker.start()
    print("ready", flush=True)
    await stop.wait()
    await broker.stop()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
