"""One pipeline pass per batch, equal to LoadedModel.predict; concurrent requests coalesced."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
from serving_testkit import make_record, make_spec, new_store, train_artifacts

import continuum.serving.inference as inference_module
from continuum.modelkit import LoadedModel, load_champion, records_to_frame
from continuum.serving.inference import MicroBatcher, predict_records


def _model() -> LoadedModel:
    store = new_store()
    spec = make_spec()
    return load_champion(store, train_artifacts(store, spec, 1, seed=1), spec, 1)


def test_single_pass_predictions_equal_loaded_model_predict() -> None:
    model = _model()
    rng = random.Random(11)
    records = [make_record(rng) for _ in range(200)]
    records += [make_record(rng, distance=None, carrier=None), make_record(rng, carrier="ZZ")]
    expected = model.predict(records_to_frame(model.spec, records))
    got = predict_records(model, records)
    assert got.labels == expected.labels
    assert got.probabilities == expected.probabilities
    assert all(type(label) is int for label in got.labels)


@pytest.mark.parametrize("inline_max_rows", [0, 1000])
async def test_concurrent_requests_share_one_pipeline_call(
    monkeypatch: pytest.MonkeyPatch, inline_max_rows: int
) -> None:
    model = _model()
    calls: list[int] = []

    def counting(m: LoadedModel, records: list[dict[str, Any]]) -> Any:
        calls.append(len(records))
        return predict_records(m, records)

    monkeypatch.setattr(inference_module, "predict_records", counting)
    observed: list[float] = []
    batcher = MicroBatcher(
        model, max_rows=1000, inline_max_rows=inline_max_rows, observe=observed.append
    )
    rng = random.Random(2)
    requests = [[make_record(rng) for _ in range(n)] for n in (1, 3, 1, 5, 2)]
    results = await asyncio.gather(*(batcher.predict(r) for r in requests))
    # All five arrived before the batcher ran: one pipeline call for the 12 rows.
    assert calls == [12]
    assert len(observed) == 1  # the inference histogram sees the one call
    for records, (result, seconds) in zip(requests, results, strict=True):
        alone = predict_records(model, records)
        assert result.labels == alone.labels
        assert result.probabilities == alone.probabilities
        # Each request is charged its rows' share of the call's model time.
        assert seconds == pytest.approx(observed[0] * len(records) / 12)


async def test_batches_respect_max_rows() -> None:
    model = _model()
    batcher = MicroBatcher(model, max_rows=4, inline_max_rows=0)
    rng = random.Random(3)
    requests = [[make_record(rng) for _ in range(n)] for n in (2, 3, 3, 6)]
    results = await asyncio.gather(*(batcher.predict(r) for r in requests))
    assert [len(r.predictions.labels) for r in results] == [2, 3, 3, 6]


async def test_a_failing_request_does_not_fail_its_batch_mates(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model = _model()

    def picky(m: LoadedModel, records: list[dict[str, Any]]) -> Any:
        if any(r.get("poison") for r in records):
            raise ValueError("poisoned")
        return predict_records(m, records)

    monkeypatch.setattr(inference_module, "predict_records", picky)
    batcher = MicroBatcher(model, max_rows=1000, inline_max_rows=0)
    good = [make_record()]
    results = await asyncio.gather(
        batcher.predict(good),
        batcher.predict(good),
        batcher.predict([make_record(poison=True)]),
        batcher.predict(good),
        return_exceptions=True,
    )
    assert [type(r).__name__ for r in results] == [
        "Inferred",
        "Inferred",
        "ValueError",
        "Inferred",
    ]
