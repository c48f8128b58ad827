"""One training run, executed in a worker process.

:func:`run_job` is the pool's entry point: the :class:`TrainingJob` arrives as the JSON it
is stored as, and the :class:`TrainingResult` goes back as JSON (see
:mod:`continuum.trainer.jobs` for why). Everything heavy happens here: reading and
verifying batches, fitting, scoring the candidate and the champion on the same
time-based holdout, and writing the artifacts. A resumed run (same ``run_id`` after a
crash) reuses what it already wrote, since stored objects are immutable.
"""

from __future__ import annotations

import io
import json
import logging
import sys
import time
from collections.abc import Sequence
from typing import Any

import pandas as pd
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from continuum.contracts import DataVersion, ModelArtifacts, StoredObject
from continuum.modelkit import (
    EVENT_TIME_COLUMN,
    Holdout,
    ModelCard,
    apply_window,
    build_reference_sample,
    dump_model,
    fit,
    frame_to_parquet,
    labelled_rows,
    load_model,
    target_values,
    time_holdout,
)
from continuum.storage import ObjectStore, get_verified, open_store, sha256_hex
from continuum.trainer.evaluation import evaluate_holdout
from continuum.trainer.jobs import JobBatch, TrainFn, TrainingJob, TrainingResult

logger = logging.getLogger("continuum.trainer.worker")


class NotEnoughDataError(ValueError):
    """Fewer labelled rows than ``training.min_rows``."""


def artifact_keys(pipeline: str, run_id: str) -> dict[str, str]:
    """Where a run's artifacts live in the artifact store."""
    prefix = f"models/{pipeline}/{run_id}"
    return {
        "model": f"{prefix}/model.skops",
        "reference_sample": f"{prefix}/reference.parquet",
        "model_card": f"{prefix}/model_card.json",
        "holdout": f"{prefix}/holdout.parquet",
        "report": f"{prefix}/report.html",
    }


def _stored(store: ObjectStore, key: str) -> StoredObject:
    data = store.get(store.uri_for(key))
    return StoredObject(uri=store.uri_for(key), sha256=sha256_hex(data), size_bytes=len(data))


def _put_once(store: ObjectStore, key: str, data: bytes) -> StoredObject:
    # A resumed run may find this object written by its first attempt: keep that one.
    if store.exists(key):
        return _stored(store, key)
    try:
        return store.put(key, data)
    except FileExistsError:
        return _stored(store, key)


def _read_batches(
    store: ObjectStore, batches: Sequence[JobBatch]
) -> tuple[pd.DataFrame, list[str], dict[str, str]]:
    """The readable batches concatenated, the ids used, and why others were skipped.

    A batch that is missing, tampered (sha256) or not Parquet is left out rather than
    failing every future run of the pipeline; the model card names it.
    """
    frames, used, skipped = [], [], {}
    for batch in batches:
        try:
            frames.append(pd.read_parquet(io.BytesIO(get_verified(store, batch.stored()))))
        except Exception as exc:
            skipped[batch.batch_id] = f"{type(exc).__name__}: {exc}"[:500]
            logger.warning("batch %s skipped: %s", batch.batch_id, exc)
            continue
        used.append(batch.batch_id)
    if not frames:
        detail = "; ".join(f"{k}: {v}" for k, v in skipped.items()) or "none known"
        raise NotEnoughDataError(f"no readable batches to train on ({detail})")
    return pd.concat(frames, ignore_index=True), used, skipped


def _jsonable(value: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(json.dumps(value, default=str))
    return result


def die_with_parent() -> None:
    """Worker initializer: on Linux, ask the kernel to kill this worker when the trainer dies.

    Otherwise a SIGKILLed trainer leaves an orphan still training, which would race the
    restarted trainer's resumed run for the same artifact keys.
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import os
    import signal

    pr_set_pdeathsig = 1
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() == 1:  # the parent died before prctl took effect
        os._exit(1)


def warm_up() -> bool:
    """Run once in a fresh worker so its first real run does not pay for the imports."""
    from continuum.trainer.report import import_evidently

    import_evidently()
    return True


def run_job(train: TrainFn, job_json: str) -> str:
    """The pool's entry point: validate the job's JSON, train it, return the result's JSON."""
    return train(TrainingJob.from_json(job_json)).model_dump_json()


def train_run(job: TrainingJob) -> TrainingResult:
    """Train, score and store one run; returns its artifacts and model card.

    Raises on any failure (bad data, too few rows...): the caller turns it into a failed
    ``ModelTrained``. OpenMP/BLAS use ``job.threads`` threads: on a small machine,
    spinning OpenMP threads competing with the service and other processes made
    HistGradientBoosting many times slower than one thread.
    """
    if not logging.getLogger().handlers:
        logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(message)s")
    with threadpool_limits(limits=job.threads):
        return _train(job)


def _train(job: TrainingJob) -> TrainingResult:
    started = time.perf_counter()
    spec = job.spec
    pipeline_name, run_id = job.pipeline, job.run_id
    artifacts_store = open_store(job.artifact_root)
    keys = artifact_keys(pipeline_name, run_id)

    if artifacts_store.exists(keys["model_card"]):
        logger.info("run %s: artifacts already written, reusing them", run_id)
        return _result(artifacts_store, keys)

    durations: dict[str, float] = {}
    raw, used, skipped = _read_batches(open_store(job.data_root), job.batches)
    rows = labelled_rows(spec, raw)
    rows, y = apply_window(spec, rows, target_values(spec, rows))
    durations["read_seconds"] = time.perf_counter() - started
    if len(rows) < spec.training.min_rows:
        raise NotEnoughDataError(
            f"{len(rows)} labelled rows in the training window, need {spec.training.min_rows}"
        )
    split = time_holdout(rows, y, spec.training.holdout_fraction)
    logger.info(
        "run %s: %d train rows, %d holdout rows, estimator %s",
        run_id,
        len(split.train),
        len(split.test),
        spec.model.estimator,
    )

    t0 = time.perf_counter()
    if artifacts_store.exists(keys["model"]):
        data = artifacts_store.get(artifacts_store.uri_for(keys["model"]))
        pipeline = load_model(data, expected_sha256=sha256_hex(data))
        params: dict[str, Any] = dict(spec.model.params)
        search: dict[str, Any] = {"resumed": True}
    else:
        result = fit(spec, split.train, split.y_train)
        pipeline, params, search = result.pipeline, result.params, result.search_results
    durations["fit_seconds"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    scored = evaluate_holdout(
        spec, pipeline, job.champion, artifacts_store, split.test, split.y_test
    )
    metrics, champion_metrics = scored.metrics, scored.champion_metrics
    if scored.champion_error:
        search["champion_error"] = scored.champion_error
    durations["score_seconds"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    reference = build_reference_sample(spec, pipeline, split.train, max_rows=job.reference_max_rows)
    _put_once(artifacts_store, keys["model"], dump_model(pipeline))
    _put_once(artifacts_store, keys["reference_sample"], frame_to_parquet(reference))
    # The rows both models were scored on, raw columns kept (a champion of an older spec
    # picks its own inputs): the registry scores them itself rather than trust our figures.
    _put_once(artifacts_store, keys["holdout"], frame_to_parquet(split.test))
    durations["write_seconds"] = time.perf_counter() - t0

    times = split.train[EVENT_TIME_COLUMN], split.test[EVENT_TIME_COLUMN]
    counts = split.class_counts(spec)
    card = ModelCard(
        pipeline=pipeline_name,
        run_id=run_id,
        spec_version=job.spec_version,
        task=spec.task,
        estimator=spec.model.estimator,
        triggers=[t.kind for t in job.triggers],
        metric=spec.promotion.metric,
        metrics=metrics,
        champion_version=job.champion.version if job.champion else None,
        champion_metrics=champion_metrics,
        params=_jsonable(params),
        search=_jsonable(search),
        data_version=DataVersion.of(used),
        skipped_batches=skipped,
        rows_train=len(split.train),
        rows_holdout=len(split.test),
        holdout_positives=counts[0] if counts else None,
        holdout_negatives=counts[1] if counts else None,
        train_time_range=(times[0].min().to_pydatetime(), times[0].max().to_pydatetime()),
        holdout_time_range=(times[1].min().to_pydatetime(), times[1].max().to_pydatetime()),
        durations_seconds=durations,
        slices=scored.slices,
    )
    card = _write_report(job, card, pipeline, split, artifacts_store, keys["report"])
    durations = dict(card.durations_seconds, total_seconds=time.perf_counter() - started)
    card = card.model_copy(update={"durations_seconds": durations})
    # The card goes last: its presence says the run's artifacts are complete.
    _put_once(artifacts_store, keys["model_card"], card.to_json_bytes())
    logger.info(
        "run %s: %s=%s (champion %s) fit %.2fs total %.2fs",
        run_id,
        spec.promotion.metric,
        metrics.get(spec.promotion.metric),
        champion_metrics.get(spec.promotion.metric),
        durations["fit_seconds"],
        durations["total_seconds"],
    )
    return _result(artifacts_store, keys)


def _write_report(
    job: TrainingJob,
    card: ModelCard,
    pipeline: Any,
    split: Holdout,
    store: ObjectStore,
    key: str,
) -> ModelCard:
    """Store the run's HTML report; a report that fails is noted on the card, not fatal."""
    if job.report_max_rows == 0 or store.exists(key):
        return card
    from continuum.trainer.report import build_report

    t0 = time.perf_counter()
    try:
        data = build_report(
            job.spec,
            card,
            pipeline,
            (split.train, split.y_train),
            (split.test, split.y_test),
            job.report_max_rows,
        )
        _put_once(store, key, data)
    except Exception as exc:  # the report is an extra: the model is still good
        logger.warning("run %s: report failed: %s", job.run_id, exc)
        search = dict(card.search) | {"report_error": f"{type(exc).__name__}: {exc}"[:500]}
        card = card.model_copy(update={"search": search})
    durations = dict(card.durations_seconds, report_seconds=time.perf_counter() - t0)
    return card.model_copy(update={"durations_seconds": durations})


def _result(store: ObjectStore, keys: dict[str, str]) -> TrainingResult:
    artifacts = ModelArtifacts(
        model=_stored(store, keys["model"]),
        reference_sample=_stored(store, keys["reference_sample"]),
        model_card=_stored(store, keys["model_card"]),
        # A run resumed from before holdouts were stored has none.
        holdout=_stored(store, keys["holdout"]) if store.exists(keys["holdout"]) else None,
        report=_stored(store, keys["report"]) if store.exists(keys["report"]) else None,
    )
    card = ModelCard.model_validate_json(get_verified(store, artifacts.model_card))
    return TrainingResult(artifacts=artifacts, card=card)
