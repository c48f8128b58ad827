"""Feature views at ingest: each durable batch updates the online store and the offline log.

For every stored batch of a pipeline with ``feature_views:``, after its Parquet batch
and manifest are durable and before offsets are committed, :class:`FeatureViewWriter`
folds the batch's events into each view's per-entity state (:mod:`view_fold`), then

1. writes the touched entities' rows with their event times to the offline store, under
   ``features/<pipeline>/<view>/<batch_id>.parquet`` (an idempotent ``put``),
2. upserts them in the online store (one write per view per batch; never back in time),
3. commits the new state and each view's folded offset of the lane (its watermark) in one
   SQLite transaction (``<state_dir>/feature_views.db``).

State and watermarks are keyed by :func:`state_name`, which hashes the view's definition:
an edited or new view has no state and no watermark of its own. A crash anywhere before
step 3 leaves the old state and watermarks, so the batch is folded again from the same
state into the same rows (steps 1 and 2 are idempotent); a batch whose last offset is at
or below a view's watermark is never folded into that view twice.

Whenever a view is behind the batches a lane already has in the store (a lost or fresh
database, a new or edited view, a partition another process wrote meanwhile, a crash
between a batch's write and its fold), :mod:`view_rebuild` folds the missing batches
from the store, in the lane's offset order, before any newer batch of that lane: when a
lane opens (:meth:`recover`), when a spec is put in force (:meth:`catch_up`) and, as a
backstop, before a view's first live fold on a lane in this process.
"""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pyarrow as pa
import pyarrow.parquet as pq

from continuum.contracts import DataBatchReady, FeatureView, PipelineSpec
from continuum.featurestore import FeatureRow, OnlineStore, view_key
from continuum.ingest.manifest import ManifestStore
from continuum.ingest.parquet_batch import SOURCE_OFFSET, SOURCE_PARTITION
from continuum.ingest.view_fold import State, batch_events, fold, values
from continuum.ingest.view_rebuild import LOG_EVERY, rebuild_lane
from continuum.ingest.view_state import open_state_db, state_name
from continuum.storage import ObjectStore

logger = logging.getLogger(__name__)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
CACHED_STATES = 100_000
"""Most entity states kept in memory beside the database (the oldest written go first)."""


def features_key(pipeline: str, view: str, batch_id: str) -> str:
    """Where a batch's view rows live in the offline store."""
    return f"features/{pipeline}/{view}/{batch_id}.parquet"


def _micros_to_datetime(micros: int) -> datetime:
    return EPOCH + timedelta(microseconds=micros)


class FeatureViewWriter:
    """Folds stored batches into view state, the online store and the offline log.

    Blocking (SQLite, object and online store I/O): the engine calls it in a thread.
    """

    def __init__(
        self,
        *,
        state_dir: Path,
        store: ObjectStore,
        online: OnlineStore,
        rebuild_log_every: int = LOG_EVERY,
    ) -> None:
        """``rebuild_log_every``: a rebuild from stored batches logs its progress that often."""
        state_dir.mkdir(parents=True, exist_ok=True)
        self.store = store
        self.manifests = ManifestStore(store)
        self.online = online
        self.rebuild_log_every = rebuild_log_every
        self._lock = threading.Lock()
        self._db = open_state_db(state_dir / "feature_views.db")
        # Committed states by (view state name, entity): decoding each touched entity's
        # JSON window from SQLite again was a third of a fold. Only this writer writes the
        # database, and the cache changes only after a commit, so it never runs ahead.
        self._cache: dict[tuple[str, str], State] = {}
        # (state name, topic, partition) this process brought up to date with the store:
        # the live fold checks the store for older unfolded batches only once per lane.
        self._caught_up: set[tuple[str, str, int]] = set()

    def folded_offset(self, spec: PipelineSpec, topic: str, partition: int) -> int:
        """The last source offset of the lane folded into every view of ``spec`` (-1: none)."""
        with self._lock:
            marks = self._watermarks(spec.name, spec.feature_views, topic, partition)
        return min(marks.values(), default=-1)

    def fold_batch(self, spec: PipelineSpec, batch: DataBatchReady, table: pa.Table) -> int:
        """Fold one stored batch (``table`` is its rows); returns the rows written online.

        A view not yet brought up to date on this lane by this process first folds the
        lane's older stored batches it lacks (see :meth:`catch_up`).
        """
        if not spec.feature_views:
            return 0
        lane = batch.offset_ranges[0]
        with self._lock:
            written = 0
            if any(
                (state_name(batch.pipeline, view), lane.topic, lane.partition)
                not in self._caught_up
                for view in spec.feature_views
            ):
                written = self._catch_up(
                    spec, batch.pipeline, lane.topic, lane.partition, through=lane.last - 1
                )
            return written + self._fold(spec, batch, table)

    def catch_up(self, spec: PipelineSpec, pipeline: str, topic: str, partition: int) -> int:
        """Fold, from the store and in offset order, every stored batch of the lane that a
        view of ``spec`` has not folded yet; returns the rows written online.

        Idempotent and crash-safe batch by batch (each batch's state and watermarks commit
        together); a batch missing from the store is logged and skipped.
        """
        if not spec.feature_views:
            return 0
        with self._lock:
            return self._catch_up(spec, pipeline, topic, partition, through=None)

    def recover(self, spec: PipelineSpec, batch: DataBatchReady) -> int:
        """Bring the views up to date with the batch's lane, up to and including ``batch``
        (the lane's newest manifest when it opens: a crash may have come between that
        batch's write and its fold, or the state may be behind or gone)."""
        if not spec.feature_views:
            return 0
        lane = batch.offset_ranges[0]
        with self._lock:
            return self._catch_up(spec, batch.pipeline, lane.topic, lane.partition, lane.last)

    def close(self) -> None:
        """Close the state database and the online store."""
        with self._lock:
            self._db.close()
        self.online.close()

    # -- internals (lock held) ----------------------------------------------------------
    def _catch_up(
        self, spec: PipelineSpec, pipeline: str, topic: str, partition: int, through: int | None
    ) -> int:
        views = spec.feature_views
        lanes = {(state_name(pipeline, view), topic, partition) for view in views}
        self._caught_up -= lanes  # a failure below leaves the next live fold to check again
        marks = self._watermarks(pipeline, views, topic, partition)
        written = rebuild_lane(
            manifests=self.manifests,
            pipeline=pipeline,
            topic=topic,
            partition=partition,
            watermarks={view.name: marks[state_name(pipeline, view)] for view in views},
            fold=lambda batch, table: self._fold(spec, batch, table),
            through=through,
            log_every=self.rebuild_log_every,
        )
        self._caught_up |= lanes
        return written

    def _watermarks(
        self, pipeline: str, views: Sequence[FeatureView], topic: str, partition: int
    ) -> dict[str, int]:
        """Each view's folded offset of the lane, by state name (-1: none)."""
        names = [state_name(pipeline, view) for view in views]
        marks = ",".join("?" * len(names))
        query = (
            "SELECT view, last_offset FROM view_folded"  # noqa: S608 (placeholders only)
            f" WHERE topic = ? AND partition = ? AND view IN ({marks})"
        )
        found = dict(self._db.execute(query, [topic, partition, *names]).fetchall())
        return {name: int(found.get(name, -1)) for name in names}

    def _fold(self, spec: PipelineSpec, batch: DataBatchReady, table: pa.Table) -> int:
        """Fold ``batch`` into each view not past it yet, then commit them together."""
        lane = batch.offset_ranges[0]
        marks = self._watermarks(batch.pipeline, spec.feature_views, lane.topic, lane.partition)
        written, updates, folded = 0, [], []
        states_after: dict[tuple[str, str], State] = {}
        present = set(table.column_names)
        for view in spec.feature_views:
            name = state_name(batch.pipeline, view)
            if lane.last <= marks[name]:
                continue  # a replay of a batch this view folded before
            folded.append((name, lane.topic, lane.partition, lane.last))
            needed = {spec.record_schema.event_time, view.entity, *view.source_columns}
            if missing := sorted(needed - present - {SOURCE_PARTITION, SOURCE_OFFSET}):
                # An older batch, stored before the spec had these columns: nothing to fold.
                logger.error(
                    "batch %s has no column %s: not folded into view %s of %s",
                    batch.batch_id,
                    ", ".join(missing),
                    view.name,
                    batch.pipeline,
                )
                continue
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
        if folded:
            self._commit(updates, folded)
            self._remember(states_after)
        return written

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
        self, updates: list[tuple[str, str, str]], folded: list[tuple[str, str, int, int]]
    ) -> None:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.executemany(
                "INSERT OR REPLACE INTO view_state (view, entity, state) VALUES (?, ?, ?)", updates
            )
            self._db.executemany(
                "INSERT OR REPLACE INTO view_folded (view, topic, partition, last_offset)"
                " VALUES (?, ?, ?, ?)",
                folded,
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
