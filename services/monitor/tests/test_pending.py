"""Events waiting for Kafka: published in order, kept while refused, reported once accepted."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest
from monitor_testkit import PIPELINE, T0

from continuum.contracts import QualityMeasured
from continuum.monitor.pending import PendingEvents
from continuum.runtime import TransientError


def _measured(version: int) -> QualityMeasured:
    return QualityMeasured(
        pipeline=PIPELINE,
        correlation_id=uuid4(),
        model_version=version,
        window_start=T0,
        window_end=T0 + timedelta(minutes=1),
        rows=10,
        metric="roc_auc",
        value=0.8,
        std_error=0.05,
    )


async def test_a_refused_event_and_those_after_it_wait_for_the_next_flush() -> None:
    pending: PendingEvents[QualityMeasured] = PendingEvents()
    first, second = _measured(1), _measured(2)
    pending.add(first)
    pending.add(second)
    published: list[QualityMeasured] = []
    sent: list[QualityMeasured] = []

    async def refuse_the_second(event: QualityMeasured) -> None:
        if event is second:
            raise ConnectionError("broker down")
        published.append(event)

    with pytest.raises(TransientError, match="QualityMeasured: broker down"):
        await pending.flush(refuse_the_second, sent.append)
    assert sent == [first] and len(pending) == 1

    async def accept(event: QualityMeasured) -> None:
        published.append(event)

    await pending.flush(accept, sent.append)
    assert published == [first, second] and sent == [first, second]
    assert len(pending) == 0


async def test_cleared_events_are_never_published() -> None:
    pending: PendingEvents[QualityMeasured] = PendingEvents()
    pending.add(_measured(1))
    pending.clear()

    async def publish(event: QualityMeasured) -> None:
        raise AssertionError(f"published {event}")

    await pending.flush(publish, lambda event: None)
    assert not pending
