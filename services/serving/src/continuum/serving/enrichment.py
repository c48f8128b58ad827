"""Feature-view enrichment: each micro-batch's records get their view features from the
online store before the model sees them.

A pipeline with ``feature_views`` is served from requests that send only the schema's
features (the entity key among them): for each view, one ``read`` of the online store per
micro-batch with the batch's entity keys deduplicated, and every record gets that view's
features. An entity the store has no row for (never seen, or sent as null) gets each
feature's ``empty_value`` (``count``: 0, else its ``default``; ``None`` is missing, left to
the model's imputer): a defined default, never an error.

The read runs where the batch's prediction runs (:class:`EnrichedModel` is what the
micro-batcher calls): in a worker thread by default (``inline_max_rows=0``), so a store
read never blocks the event loop. Each read is timed into
``continuum_serving_feature_lookup_seconds{pipeline, view}``; the model time a batch
reports (``continuum_serving_inference_seconds``, the calling thread's CPU time) includes
its lookups' CPU time, not their wait for the store.

The values are written into the records themselves (the request validator shares one dict
per record between the model input and the prediction log), so the log carries the
enriched features and the monitor sees what the model saw.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from prometheus_client import CollectorRegistry, Histogram

from continuum.contracts import FeatureView, PipelineSpec, entity_key
from continuum.featurestore import OnlineStore, open_online_store, view_key
from continuum.modelkit import LoadedModel, Predictions

_LOOKUP_BUCKETS = (
    0.00005, 0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128,
)  # fmt: skip


def _key(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return entity_key(value)


class FeatureLookup:
    """One app's online store (opened on first use) and its lookup histogram.

    Opened lazily: a serving process whose pipelines have no feature views never touches
    the store (``CONTINUUM_ONLINE_STORE_URI``).
    """

    def __init__(
        self,
        uri: str,
        registry: CollectorRegistry,
        *,
        store: OnlineStore | None = None,
    ) -> None:
        self.uri = uri
        self._store = store
        self._lock = threading.Lock()
        self.seconds = Histogram(
            "continuum_serving_feature_lookup_seconds",
            "Online-store read per micro-batch and feature view (entities deduplicated).",
            ["pipeline", "view"],
            buckets=_LOOKUP_BUCKETS,
            registry=registry,
        )

    @property
    def store(self) -> OnlineStore:
        """The online store, opened on first use (from a worker thread, hence the lock)."""
        with self._lock:
            if self._store is None:
                self._store = open_online_store(self.uri)
            return self._store

    def close(self) -> None:
        """Close the store if it was opened."""
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None

    def enricher(self, pipeline: str, spec: PipelineSpec) -> Enricher | None:
        """The enricher of a spec's views (``None`` when it has none)."""
        if not spec.feature_views:
            return None
        return Enricher(self, pipeline, spec.feature_views)


class Enricher:
    """Fills one pipeline's view features into records, one store read per view."""

    def __init__(self, lookup: FeatureLookup, pipeline: str, views: Sequence[FeatureView]) -> None:
        self.lookup = lookup
        self.views = [
            (
                view,
                view_key(pipeline, view.name),
                {f.name: f.empty_value for f in view.features},
                lookup.seconds.labels(pipeline, view.name),
            )
            for view in views
        ]

    def enrich(self, records: Sequence[dict[str, Any]]) -> None:
        """Set every view feature of every record (in place), from the store or the default.

        Blocking: call it off the event loop (the micro-batcher's worker thread does).
        """
        store = self.lookup.store
        for view, name, empty, histogram in self.views:
            keys = [_key(record.get(view.entity)) for record in records]
            wanted = list(dict.fromkeys(k for k in keys if k is not None))
            started = time.perf_counter()
            rows = store.read(name, wanted) if wanted else {}
            histogram.observe(time.perf_counter() - started)
            for record, key in zip(records, keys, strict=True):
                row = rows.get(key) if key is not None else None
                record.update(empty if row is None else _values(row.values, empty))


def _values(stored: Mapping[str, Any], empty: dict[str, Any]) -> dict[str, Any]:
    # A feature the stored row lacks (a view changed since ingest wrote it) is empty too.
    return {name: stored.get(name, default) for name, default in empty.items()}


@dataclass(frozen=True)
class EnrichedModel(LoadedModel):
    """A loaded model whose predictions first enrich their records with view features."""

    enricher: Enricher | None = None

    @classmethod
    def wrap(cls, model: LoadedModel, enricher: Enricher | None) -> LoadedModel:
        """``model`` itself without an enricher, else the same model enriching its input."""
        if enricher is None:
            return model
        return cls(model.pipeline, model.spec, model.version, enricher)

    def predict_records(self, records: Sequence[Mapping[str, Any]]) -> Predictions:
        """Enrich ``records`` in place (one store read per view), then predict."""
        if self.enricher is not None:
            # The validator's records are plain dicts, shared with the prediction log.
            self.enricher.enrich(cast(Sequence[dict[str, Any]], records))
        return super().predict_records(records)
