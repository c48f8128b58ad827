"""Rebuilding feature-view state from the batches a lane already has in the store.

A view's state can be behind what its lane has stored: ``feature_views.db`` lost or new
(another disk, another host, the state dir wiped), a view added or edited by a new spec
version (its state is keyed by its definition's hash, so it has none), a partition
another ingest process wrote meanwhile, or a crash between a batch's write and its fold.
Each view keeps a watermark per lane (the last source offset it folded); this module
reads the lane's manifests above the lowest watermark and folds their batches one at a
time (bounded memory), in the lane's offset order, through the writer's own fold: the
same events, rows, offline objects and online upserts as when those batches were folded
live, each batch's new state and watermarks committed together (a crash mid-rebuild
resumes where the last commit left it, counting nothing twice). The fold skips, per
view, batches at or below that view's watermark, so an up-to-date view is not folded
again.

Order. :mod:`view_fold` orders an entity's events by (event time, partition, offset) and
its state spans every lane. Live, a lane's batches fold strictly in offset order, while
different lanes' batches interleave as their writes happen to complete (not a recorded
order). A rebuild therefore runs per lane, in that lane's offset order, exactly as the
live fold did per batch. Across lanes the result does not depend on the interleaving:
a window keeps the newest events by (time, partition, offset) whatever came first, and
counts, extremes and ``latest`` are order-free; only a float ``sum``/``mean`` over
several lanes may differ in its last bits, as it may between two live runs. Offline
rows of a batch folded live already exist in the store and are kept as they are.

A manifest whose batch is missing (or damaged) in the store is logged as an error and
skipped: the rebuild and the partition go on with the next batch.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Mapping

import pyarrow as pa
import pyarrow.parquet as pq

from continuum.contracts import DataBatchReady
from continuum.ingest.manifest import ManifestStore
from continuum.storage import IntegrityError, get_verified

logger = logging.getLogger(__name__)

LOG_EVERY = 100
"""A long rebuild logs its progress every this many batches."""

Fold = Callable[[DataBatchReady, pa.Table], int]
"""Folds one stored batch into the views behind it; returns the rows written online."""


def rebuild_lane(
    *,
    manifests: ManifestStore,
    pipeline: str,
    topic: str,
    partition: int,
    watermarks: Mapping[str, int],
    fold: Fold,
    through: int | None = None,
    log_every: int = LOG_EVERY,
) -> int:
    """Fold the lane's stored batches above the lowest of ``watermarks``, oldest first.

    ``watermarks``: each view's folded offset on this lane, by view name (-1: none).
    ``through``: only batches whose last offset is at most this (None: all of them).
    Returns the rows written online.
    """
    low = min(watermarks.values(), default=None)
    if low is None:
        return 0
    todo = [
        (last, key)
        for last, key in manifests.history(pipeline, topic, partition)
        if last > low and (through is None or last <= through)
    ]
    if not todo:
        return 0
    newest = todo[-1][0]
    behind = ", ".join(sorted(name for name, mark in watermarks.items() if mark < newest))
    where = f"{topic}-{partition}"
    logger.info(
        "rebuilding view %s of pipeline %s from stored batches (%s, offsets %d-%d): %d batches",
        behind,
        pipeline,
        where,
        low + 1,
        newest,
        len(todo),
    )
    written = 0
    for done, (_, key) in enumerate(todo, 1):
        stored = _stored_batch(manifests, key)
        if stored is not None:
            written += fold(*stored)
        if done % log_every == 0 or done == len(todo):
            logger.info(
                "rebuilding view %s of pipeline %s from stored batches (%s): %d/%d",
                behind,
                pipeline,
                where,
                done,
                len(todo),
            )
    return written


def _stored_batch(manifests: ManifestStore, key: str) -> tuple[DataBatchReady, pa.Table] | None:
    """The batch a manifest names and its rows; None (logged) if it is not in the store."""
    batch = manifests.read(key).batch
    try:
        data = get_verified(manifests.store, batch.storage)
    except (FileNotFoundError, IntegrityError) as error:
        # Not ours to repair: a view without these rows beats a partition that never moves.
        logger.error(
            "batch %s of %s (manifest %s) is missing or damaged in the store: %s;"
            " its rows are not folded into the feature views",
            batch.batch_id,
            batch.pipeline,
            key,
            error,
        )
        return None
    return batch, pq.read_table(io.BytesIO(data))
