"""Feature views at ingest: each durable batch updates the online store and the offline log.

For every stored batch of a pipeline with ``feature_views:``, after its Parquet batch
and manifest are durable and before offsets are committed, :class:`FeatureViewWriter`
folds the batch's events into each view's per-entity state (:mod:`view_fold`), then

1. writes the touched entities' rows with their event times to the offline store, under
   ``features/<pipeline>/<view>/<batch_id>.parquet`` (an idempotent ``put``),
2. upserts them in the online store (one write per view per batch; never back in time),
3. commits the new state and the lane's folded offset in one SQLite transaction
   (``<state_dir>/feature_views.db``).

A crash anywhere before step 3 leaves the old state and watermark, so the batch is folded
again from the same state into the same rows (steps 1 and 2 are idempotent); a batch
whose last offset is at or below the lane's watermark is never folded twice. After a
restart the engine hands each lane's newest manifest to :meth:`recover`, which folds that
batch if the crash came between its write and its fold.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import sqlite3
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pyarrow as pa
import pyarrow.parquet as pq

from continuum.contracts import DataBatchReady, FeatureView, PipelineSpec
from continuum.featurestore import FeatureRow, OnlineStore, view_key
from continuum.ingest.view_fold import State, batch_events, fold, values
from continuum.storage import ObjectStore

logger = logging.getLogger(__name__)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
CACHED_STATES = 100_000
"""Most entity states kept in memory beside the database (the oldest written go first)."""

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS view_state (view TEXT NOT NULL, entity TEXT NOT NULL,"
    " state TEXT NOT NULL, PRIMARY KEY (view, entity)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS folded (pipeline TEXT NOT NULL, topic TEXT NOT NULL,"
    " partition INTEGER NOT NULL, last_offset INTEGER NOT NULL,"
    " PRIMARY KEY (pipeline, topic, partition))",
)


def features_key(pipeline: str, view: str, batch_id: str) -> str:
    """Where a batch's view rows live in the offline store."""
    return f"features/{pipeline}/{view}/{batch_id}.parquet"


def state_name(pipeline: str, view: FeatureView) -> str:
    """The state's key of a view: its definition's hash too, so an edited view starts anew."""
    definition = json.dumps(view.model_dump(mode="json"), sort_keys=True).encode()
    return f"{view_key(pipeline, view.name)}@{hashlib.sha256(definition).hexdigest()[:16]}"


def _micros_to_datetime(micros: int) -> datetime:
    return EPOCH + timedelta(microseconds=micros)


class FeatureViewWriter:
    """Folds stored batches into view state, the online store and the offline log.

    Blocking (SQLite, object and online store I/O): the engine calls it in a thread.
    """

    def __init__(self, *, state_dir: Path, store: ObjectStore, online: OnlineStore) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        self.store = store
        self.online = online
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            state_dir / "feature_views.db", check_same_thread=False, isolation_level=None
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        for statement in SCHEMA:
            self._db.execute(statement)
        # Committed states by (view state name, entity): decoding each touched entity's
        # JSON window from SQLite again was a third of a fold. Only this writer writes the
        # database, and the cache changes only after a commit, so it never runs ahead.
        self._cache: dict[tuple[str, str], State] = {}

    def folded_offset(self, pipeline: str, topic: str, partition: int) -> int:
        """The last source offset of the lane already folded (``-1``: none)."""
        row = self._db.execute(
            "SELECT last_offset FROM folded WHERE pipeline = ? AND topic = ? AND partition = ?",
            (pipeline, topic, partition),
        ).fetchone()
        return int(row[0]) if row else -1

    def fold_batch(self, spec: PipelineSpec, batch: DataBatchReady, table: pa.Table) -> int:
        """Fold one stored batch (``table`` is its rows); returns the rows written online."""
        if not spec.feature_views:
            return 0
        lane = batch.offset_ranges[0]
        with self._lock:
            if lane.last <= self.folded_offset(batch.pipeline, lane.topic, lane.partition):
                return 0  # a replay of a batch folded before
            written, updates = 0, []
            states_after: dict[tuple[str, str], State] = {}
            for view in spec.feature_views:
                name = state_name(batch.pipeline, view)
                grouped = batch_events(spec, view, table)
                states = self._load(name, [g.entity for g in grouped])
                rows: list[FeatureRow] = []
                for group in grouped:
                    state = fold(view, states.get(group.entity), group.events)
                    # msgspec writes the same JSON (compact) several times faster.
                    text = msgspec.json.encode(state).decode()
                    updates.append((name, group.entity, text))
                    states_after[(name, group.entity)] = state
                    as_of = _micros_to_datetime(int(state["as_of"]))
                    rows.append(FeatureRow(group.entity, as_of, values(view, state)))
                self._write_offline(spec, view, batch, rows)
                self.online.write(view_key(batch.pipeline, view.name), rows)
                written += len(rows)
            self._commit(updates, batch.pipeline, lane.topic, lane.partition, lane.last)
            self._remember(states_after)
        return written

    def recover(self, spec: PipelineSpec, batch: DataBatchReady) -> int:
        """Fold a lane's newest batch again if a crash came between its write and its fold."""
        lane = batch.offset_ranges[0]
        if not spec.feature_views or lane.last <= self.folded_offset(
            batch.pipeline, lane.topic, lane.partition
        ):
            return 0
        table = pq.read_table(io.BytesIO(self.store.get(batch.storage.uri)))
        logger.info("feature views: folding batch %s again after a restart", batch.batch_id)
        return self.fold_batch(spec, batch, table)

    def close(self) -> None:
        """Close the state database and the online store."""
        with self._lock:
            self._db.close()
        self.online.close()

    # -- internals ----------------------------------------------------------------------
    def _load(self, name: str, entities: Sequence[str]) -> dict[str, State]:
        found: dict[str, State] = {}
        missing = []
        for entity in entities:
            cached = self._cache.get((name, entity))
            if cached is None:
                missing.append(entity)
            else:
                found[entity] = cached
        for start in range(0, len(missing), 500):
            chunk = missing[start : start + 500]
            marks = ",".join("?" * len(chunk))
            query = f"SELECT entity, state FROM view_state WHERE view = ? AND entity IN ({marks})"  # noqa: S608
            for entity, text in self._db.execute(query, [name, *chunk]):
                found[entity] = json.loads(text)
        return found

    def _remember(self, states: dict[tuple[str, str], State]) -> None:
        """Keep committed states (fold returns new dicts: cached ones are never mutated)."""
        for key, state in states.items():
            self._cache.pop(key, None)  # re-inserted last: the oldest written go first
            self._cache[key] = state
        while len(self._cache) > CACHED_STATES:
            del self._cache[next(iter(self._cache))]

    def _commit(
        self,
        updates: list[tuple[str, str, str]],
        pipeline: str,
        topic: str,
        partition: int,
        last: int,
    ) -> None:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.executemany(
                "INSERT OR REPLACE INTO view_state (view, entity, state) VALUES (?, ?, ?)", updates
            )
            self._db.execute(
                "INSERT OR REPLACE INTO folded (pipeline, topic, partition, last_offset)"
                " VALUES (?, ?, ?, ?)",
                (pipeline, topic, partition, last),
            )
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _write_offline(
        self, spec: PipelineSpec, view: FeatureView, batch: DataBatchReady, rows: list[FeatureRow]
    ) -> None:
        kinds = spec.view_feature_kinds
        fields = [
            pa.field("entity", pa.string(), nullable=False),
            pa.field("as_of", pa.timestamp("us", tz="UTC"), nullable=False),
        ]
        fields += [
            pa.field(f.name, pa.string() if kinds[f.name] == "categorical" else pa.float64())
            for f in view.features
        ]
        data = {
            "entity": [r.entity for r in rows],
            "as_of": [r.as_of for r in rows],
            **{f.name: [r.values.get(f.name) for r in rows] for f in view.features},
        }
        sink = io.BytesIO()
        pq.write_table(pa.table(data, schema=pa.schema(fields)), sink)
        key = features_key(batch.pipeline, view.name, batch.batch_id)
        try:
            self.store.put(key, sink.getvalue())
        except FileExistsError:
            # Written before a crash by another library version: that object stands.
            logger.warning("feature rows %s already stored with other bytes; kept", key)
