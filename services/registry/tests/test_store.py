"""The store suite, run against SQLite and a real PostgreSQL (the ``store`` fixture)."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from continuum.contracts import (
    Event,
    ModelPromoted,
    PipelineChanged,
    PipelineSpec,
    TrainingRequested,
)
from continuum.registry import announcements
from continuum.registry.sql_store import SqlRegistryStore
from continuum.registry.store import (
    NoPreviousChampionError,
    NotFoundError,
    StoreUnavailableError,
)
from continuum.registry_client import ModelVersionRecord


def _no_events(*_args: Any) -> Sequence[Event]:
    return []


def _register(store: SqlRegistryStore, event: Any, decision: str = "promoted") -> Any:
    return store.register_model(
        event,
        decision=decision,
        reason=f"test {decision}",
        announce=announcements.gate_decided(event),
    )


def test_apply_spec_versions_and_unchanged(store: SqlRegistryStore, spec: PipelineSpec) -> None:
    first = store.apply_spec(spec, "alice", announcements.spec_applied())
    assert (first.spec_version, first.unchanged, first.applied_by) == (1, False, "alice")
    again = store.apply_spec(spec, "bob", announcements.spec_applied())
    assert (again.spec_version, again.unchanged, again.applied_by) == (1, True, "alice")

    changed = spec.model_copy(update={"description": "v2"})
    second = store.apply_spec(changed, "bob", announcements.spec_applied())
    assert second.spec_version == 2 and second.spec.description == "v2"

    latest = store.get_spec("churn")
    assert latest is not None and latest.spec_version == 2
    v1 = store.get_spec("churn", 1)
    assert v1 is not None and v1.spec == spec and v1.spec_sha256 == spec.sha256()
    assert store.get_spec("churn", 3) is None and store.get_spec("nope") is None

    [summary] = store.list_pipelines()
    assert (summary.name, summary.spec_version, summary.source_topic) == (
        "churn",
        2,
        "churn.records",
    )
    assert summary.champion_version is None and summary.model_versions == 0

    # Two versions stored -> two announcements; the unchanged apply announced nothing.
    events = [p.event for p in store.pending_events()]
    assert [type(e) for e in events] == [PipelineChanged, PipelineChanged]
    assert [e.spec_version for e in events if isinstance(e, PipelineChanged)] == [1, 2]


def test_register_promote_reject_and_lineage(
    store: SqlRegistryStore, spec: PipelineSpec, trained: Any
) -> None:
    store.apply_spec(spec, "alice", announcements.spec_applied())
    first = _register(store, trained("run-1", 0.8))
    assert first.previous_version is None
    assert first.champion.version == 1 and first.champion.is_champion

    second = _register(
        store, trained("run-2", 0.7, champion_version=1, champion_auc=0.8), "rejected"
    )
    assert second.champion.version == 2 and not second.champion.is_champion
    assert second.previous_version == 1

    champion = store.get_champion("churn")
    assert champion is not None and champion.version == 1 and champion.run_id == "run-1"
    models = store.list_models("churn")
    assert [(m.version, m.decision, m.is_champion) for m in models] == [
        (1, "promoted", True),
        (2, "rejected", False),
    ]
    v2 = store.get_model("churn", 2)
    assert v2 is not None
    assert v2.champion_metrics == {"roc_auc": 0.8} and v2.metrics["roc_auc"] == 0.7
    assert v2.data_version is not None and v2.data_version.batch_ids == ["b-1", "b-2"]
    assert v2.params == {"max_iter": 200} and v2.decision_reason == "test rejected"
    assert store.has_run("run-2") and not store.has_run("run-3")
    assert store.champions() == {"churn": 1}
    [summary] = store.list_pipelines()
    assert (summary.champion_version, summary.model_versions) == (1, 2)


def test_duplicate_run_is_ignored(store: SqlRegistryStore, trained: Any) -> None:
    assert _register(store, trained("run-1")) is not None
    assert _register(store, trained("run-1")) is None
    assert len(store.list_models("churn")) == 1
    assert store.record_failed_run(trained("run-1", status="failed"), "x") is False


def test_failed_run_is_audited_once_without_a_version(
    store: SqlRegistryStore, trained: Any
) -> None:
    failed = trained("run-f", status="failed")
    assert store.record_failed_run(failed, "out of memory") is True
    assert store.record_failed_run(failed, "out of memory") is False
    assert store.list_models("churn") == []
    [entry] = store.audit("churn")
    assert (entry.action, entry.version) == ("rejected", None)
    assert entry.detail["run_id"] == "run-f" and entry.detail["reason"] == "out of memory"


def test_runs_are_listed_newest_first_with_reason_and_status(
    store: SqlRegistryStore, trained: Any
) -> None:
    assert store.list_runs("churn") == []
    assert store.pipeline_status("churn").summary == "no model yet: no training run has finished"
    store.record_failed_run(trained("run-1", status="failed"), "ValueError: bad max_iter")
    status = store.pipeline_status("churn")
    assert (status.has_model, status.champion_version) == (False, None)
    assert status.summary == "no model: last run failed because ValueError: bad max_iter"

    _register(store, trained("run-2"), decision="rejected")
    assert store.pipeline_status("churn").summary == (
        "no model: the last run's candidate (v1) was not promoted (test rejected)"
    )
    _register(store, trained("run-3"))
    store.record_failed_run(trained("run-4", status="failed"), "MemoryError: oom")
    failed, promoted, rejected, first = store.list_runs("churn")
    assert [r.run_id for r in (failed, promoted, rejected, first)] == [
        "run-4",
        "run-3",
        "run-2",
        "run-1",
    ]
    assert (first.status, first.trigger, first.version, first.failure_reason) == (
        "failed",
        "new_data",
        None,
        "ValueError: bad max_iter",
    )
    assert (promoted.status, promoted.version, promoted.decision) == ("succeeded", 2, "promoted")
    assert (rejected.version, rejected.decision) == (1, "rejected")
    assert first.spec_version == 1 and first.correlation_id
    assert [r.run_id for r in store.list_runs("churn", limit=1)] == ["run-4"]
    status = store.pipeline_status("churn")
    assert status.has_model and status.last_run == failed
    assert status.summary == "serving v2; last run failed because MemoryError: oom"


def test_setup_adds_the_run_columns_to_an_older_database(
    store: SqlRegistryStore, trained: Any
) -> None:
    # training_runs as the first release created it, with one failed run in it.
    with store.engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE training_runs")
        connection.exec_driver_sql(
            "CREATE TABLE training_runs (run_id VARCHAR(200) PRIMARY KEY,"
            " pipeline VARCHAR(64) NOT NULL, status VARCHAR(20) NOT NULL, version INTEGER,"
            " event_id VARCHAR(36) NOT NULL, received_at TIMESTAMP NOT NULL)"
        )
        connection.exec_driver_sql(
            "INSERT INTO training_runs VALUES"
            " ('run-old', 'churn', 'failed', NULL, 'e-1', '2026-01-01 00:00:00')"
        )
    store.setup()
    store.setup()  # idempotent
    [old] = store.list_runs("churn")
    assert (old.run_id, old.status, old.trigger, old.failure_reason) == (
        "run-old",
        "failed",
        None,
        None,
    )
    assert store.record_failed_run(trained("run-new", status="failed"), "boom") is True
    assert store.list_runs("churn")[0].failure_reason == "boom"


def test_promote_and_rollback_walk_the_champion_stack(
    store: SqlRegistryStore, trained: Any
) -> None:
    for n in (1, 2, 3):
        _register(store, trained(f"run-{n}"), "promoted" if n < 3 else "rejected")
    manual = announcements.champion_changed("manual", "carol")
    promotion = store.promote("churn", 3, actor="carol", reason="hotfix", announce=manual)
    assert (promotion.champion.version, promotion.previous_version) == (3, 2)
    # Promoting the champion again adds nothing to roll back through.
    store.promote("churn", 3, actor="carol", reason="again", announce=manual)

    back = announcements.champion_changed("rollback", "dave")
    assert store.rollback("churn", actor="dave", reason="bad", announce=back).champion.version == 2
    assert store.rollback("churn", actor="dave", reason="bad", announce=back).champion.version == 1
    with pytest.raises(NoPreviousChampionError):
        store.rollback("churn", actor="dave", reason="bad", announce=back)
    champion = store.get_champion("churn")
    assert champion is not None and champion.version == 1

    with pytest.raises(NotFoundError):
        store.promote("churn", 9, actor="carol", reason="x", announce=manual)
    with pytest.raises(NoPreviousChampionError):
        store.rollback("other", actor="dave", reason="x", announce=back)

    promoted = [p.event for p in store.pending_events() if isinstance(p.event, ModelPromoted)]
    assert [(e.version, e.previous_version, e.reason) for e in promoted] == [
        (1, None, "gate"),
        (2, 1, "gate"),
        (3, 2, "manual"),
        (3, 3, "manual"),
        (2, 3, "rollback"),
        (1, 2, "rollback"),
    ]


def test_audit_is_newest_first_and_filters(
    store: SqlRegistryStore, spec: PipelineSpec, trained: Any
) -> None:
    store.apply_spec(spec, "alice", announcements.spec_applied())
    _register(store, trained("run-1"))
    store.record_training_request(TrainingRequested(pipeline="other", requested_by="eve"))
    actions = [e.action for e in store.audit()]
    assert actions == ["training_requested", "promoted", "version_registered", "spec_applied"]
    assert [e.action for e in store.audit("other")] == ["training_requested"]
    assert len(store.audit(limit=2)) == 2
    entry = store.audit("churn")[0]
    assert entry.at.tzinfo is not None and entry.version == 1


def test_outbox_keeps_order_until_published(
    store: SqlRegistryStore, spec: PipelineSpec, trained: Any
) -> None:
    store.apply_spec(spec, "alice", announcements.spec_applied())
    _register(store, trained("run-1"))
    pending = store.pending_events()
    assert [p.event.event_type for p in pending] == [
        "continuum.pipelines.changed",
        "continuum.models.registered",
        "continuum.models.promoted",
    ]
    store.mark_published([pending[0].outbox_id])
    assert [p.outbox_id for p in store.pending_events()] == [p.outbox_id for p in pending[1:]]
    store.mark_published([p.outbox_id for p in pending])
    assert store.pending_events() == []


def test_concurrent_registrations_get_distinct_versions(
    store: SqlRegistryStore, trained: Any
) -> None:
    events = [trained(f"run-{n}") for n in range(12)]

    def register(event: Any) -> ModelVersionRecord:
        result = store.register_model(event, decision="rejected", reason="r", announce=_no_events)
        assert result is not None
        return result.champion

    with ThreadPoolExecutor(max_workers=6) as pool:
        records = list(pool.map(register, events))
    assert sorted(r.version for r in records) == list(range(1, 13))
    assert len({r.run_id for r in records}) == 12


def test_unreachable_database_is_a_transient_error() -> None:
    dead = SqlRegistryStore.from_url("postgresql+psycopg://postgres@127.0.0.1:1/none")
    with pytest.raises(StoreUnavailableError) as info:
        dead.ping()
    assert isinstance(info.value, ConnectionError)
    dead.close()


def test_cold_start_and_older_new_data_runs_keep_their_triggers(
    store: SqlRegistryStore, trained: Any
) -> None:
    # v1 as a trainer recorded it before cold_start existed, v2 as the first run is now.
    _register(store, trained("run-old"))
    _register(store, trained("run-new").model_copy(update={"trigger": "cold_start"}))
    models = {m.run_id: m.trigger for m in store.list_models("churn")}
    assert models == {"run-old": "new_data", "run-new": "cold_start"}
    runs = {r.run_id: r.trigger for r in store.list_runs("churn")}
    assert runs == {"run-old": "new_data", "run-new": "cold_start"}
