"""The registry app end to end in memory: HTTP through ``RegistryClient``, Kafka through
``TestKafkaBroker``, SQLite on disk, real (tiny) sklearn models in a memory:// store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from registry_testkit import TOKEN, Harness, registry_settings, running

from continuum.contracts import StoredObject, parse_spec_yaml
from continuum.contracts.topics import (
    MODELS_PROMOTED,
    MODELS_REGISTERED,
    MODELS_TRAINED,
    PIPELINES_CHANGED,
    TRAINING_REQUESTS,
    dlq_topic,
)
from continuum.registry import announcements
from continuum.registry.settings import RegistrySettings
from continuum.registry.sql_store import SqlRegistryStore
from continuum.registry.store import StoreUnavailableError
from continuum.registry_client import RegistryClient, RegistryError
from continuum.runtime import TransientError
from continuum.storage import ObjectStore


async def test_apply_spec_new_then_unchanged(harness: Harness, spec_yaml: str) -> None:
    first = await harness.registry.apply_spec("churn", spec_yaml, applied_by="alice")
    assert (first.spec_version, first.unchanged, first.spec.name) == (1, False, "churn")
    [changed] = harness.published[PIPELINES_CHANGED]
    assert changed["spec_version"] == 1 and changed["source_topic"] == "churn.records"
    assert changed["_key"] == b"churn" and changed["_headers"]["ce_source"] == "continuum-registry"

    # Same spec, different YAML layout: unchanged, and nothing is announced.
    again = await harness.registry.apply_spec("churn", spec_yaml + "\n# a comment\n")
    assert (again.spec_version, again.unchanged) == (1, True)
    assert len(harness.published[PIPELINES_CHANGED]) == 1

    second = await harness.registry.apply_spec("churn", spec_yaml + "description: more\n")
    assert second.spec_version == 2 and len(harness.published[PIPELINES_CHANGED]) == 2
    v1 = await harness.registry.get_spec_version("churn", 1)
    assert v1 is not None and v1.spec.description == ""
    [summary] = await harness.registry.list_pipelines()
    assert (summary.name, summary.spec_version, summary.champion_version) == ("churn", 2, None)


async def test_invalid_specs_get_422_with_paths(harness: Harness, spec_yaml: str) -> None:
    async def put(name: str, text: str) -> httpx.Response:
        return await harness.http.put(
            f"/v1/pipelines/{name}",
            json={"spec_yaml": text},
            headers={"authorization": f"Bearer {TOKEN}"},
        )

    bad_yaml = await put("churn", "name: [unclosed\n")
    assert bad_yaml.status_code == 422
    [problem] = bad_yaml.json()["detail"]
    assert problem["path"] == "$" and "invalid YAML at line" in problem["reason"]

    typo = spec_yaml.replace("estimator: LogisticRegression", "estimatr: LogisticRegression")
    typo = typo.replace("min_improvement: 0.01", "min_improvement: -1")
    response = await put("churn", typo)
    assert response.status_code == 422
    paths = {p["path"]: p["reason"] for p in response.json()["detail"]}
    assert {"model.estimatr", "model.estimator", "promotion.min_improvement"} <= paths.keys()
    assert "greater than or equal to 0" in paths["promotion.min_improvement"]

    mismatch = await put("other", spec_yaml)
    assert mismatch.status_code == 422
    assert mismatch.json()["detail"][0]["path"] == "name"
    assert harness.published[PIPELINES_CHANGED] == []


async def test_estimator_params_sklearn_would_refuse_get_422(
    harness: Harness, spec_yaml: str
) -> None:
    bad = spec_yaml.replace(
        "  params: {max_iter: 200}\n",
        "  params: {max_iters: 200, C: -1}\n"
        "  search:\n    params:\n      solver: [lbfgs, fastest]\n",
    )
    assert bad != spec_yaml
    response = await harness.http.put(
        "/v1/pipelines/churn",
        json={"spec_yaml": bad},
        headers={"authorization": f"Bearer {TOKEN}"},
    )
    assert response.status_code == 422, response.text
    reasons = {p["path"]: p["reason"] for p in response.json()["detail"]}
    assert reasons.keys() == {
        "model.params.max_iters",
        "model.params.C",
        "model.search.params.solver.1",
    }
    assert "no parameter 'max_iters'; did you mean 'max_iter'?" in reasons["model.params.max_iters"]
    assert "must be a float in the range (0.0, inf]" in reasons["model.params.C"]
    assert "fastest" in reasons["model.search.params.solver.1"]
    assert harness.published[PIPELINES_CHANGED] == []
    assert (await harness.http.get("/v1/pipelines/churn")).status_code == 404


async def test_writes_need_the_token_reads_do_not(harness: Harness, spec_yaml: str) -> None:
    body = {"spec_yaml": spec_yaml}
    assert (await harness.http.put("/v1/pipelines/churn", json=body)).status_code == 401
    wrong = {"authorization": "Bearer not-the-token"}
    assert (
        await harness.http.put("/v1/pipelines/churn", json=body, headers=wrong)
    ).status_code == 401
    for path in ("/v1/pipelines/churn/rollback", "/v1/pipelines/churn/training-requests"):
        assert (await harness.http.post(path, json={})).status_code == 401
    assert (await harness.http.get("/v1/pipelines")).json() == []
    good = {"authorization": f"Bearer {TOKEN}"}
    created = await harness.http.put("/v1/pipelines/churn", json=body, headers=good)
    assert created.status_code == 201 and created.json()["spec_version"] == 1
    same = await harness.http.put("/v1/pipelines/churn", json=body, headers=good)
    assert same.status_code == 200 and same.json()["unchanged"] is True
    assert (await harness.http.get("/v1/audit")).status_code == 200
    async with RegistryClient(
        "http://registry", token="wrong-token", transport=harness.http._transport
    ) as bad:
        with pytest.raises(RegistryError) as info:
            await bad.apply_spec("churn", spec_yaml)
    assert info.value.status_code == 401


async def test_model_lifecycle_gate_rollback_and_audit(
    harness: Harness, spec_yaml: str, trained: Any, make_artifacts: Any, artifact_store: ObjectStore
) -> None:
    registry = harness.registry
    await registry.apply_spec("churn", spec_yaml, applied_by="alice")
    assert await registry.get_champion("churn") is None
    # Each run claims what its model really scores: the registry measures the same.
    auc = {q: make_artifacts.metrics(q)["roc_auc"] for q in ("good", "fair", "poor")}
    assert auc["good"] > auc["fair"] + 0.01 > auc["poor"] + 0.01 > 0.61

    # 1. The first model passes the floor and becomes the champion.
    first = trained("run-1", auc["fair"], artifacts=make_artifacts("run-1", "fair"))
    await harness.train(first)
    [registered] = harness.published[MODELS_REGISTERED]
    assert (registered["version"], registered["decision"]) == (1, "promoted")
    assert registered["correlation_id"] == str(first.correlation_id)
    [promoted] = harness.published[MODELS_PROMOTED]
    assert (promoted["version"], promoted["previous_version"], promoted["reason"]) == (
        1,
        None,
        "gate",
    )
    assert promoted["correlation_id"] == str(first.correlation_id)
    champion = await registry.get_champion("churn")
    assert champion is not None and champion.version == 1 and champion.is_champion

    # 2. A worse candidate is registered but rejected, with the reason.
    worse = trained(
        "run-2",
        auc["poor"],
        artifacts=make_artifacts("run-2", "poor"),
        champion_version=1,
        champion_auc=auc["fair"],
    )
    await harness.train(worse)
    assert harness.published[MODELS_REGISTERED][-1]["decision"] == "rejected"
    v2 = await registry.get_model("churn", 2)
    assert v2 is not None and v2.decision == "rejected"
    assert v2.decision_reason.startswith(
        f"not improved: roc_auc={auc['poor']:.6g} vs champion {auc['fair']:.6g}"
    )
    assert "claimed" not in v2.decision_reason  # honest figures: nothing to note
    assert v2.metrics == make_artifacts.metrics("poor")
    assert v2.champion_metrics == make_artifacts.metrics("fair")
    assert len(harness.published[MODELS_PROMOTED]) == 1

    # 3. A better one is promoted, and says which champion it replaced.
    better = trained(
        "run-3",
        auc["good"],
        artifacts=make_artifacts("run-3", "good"),
        champion_version=1,
        champion_auc=auc["fair"],
    )
    await harness.train(better)
    promoted = harness.published[MODELS_PROMOTED][-1]
    assert (promoted["version"], promoted["previous_version"], promoted["reason"]) == (3, 1, "gate")
    assert promoted["artifacts"]["model"]["sha256"] == better.artifacts.model.sha256  # type: ignore[union-attr]
    assert promoted["correlation_id"] == str(better.correlation_id)

    # 4. A redelivered run changes nothing and publishes nothing.
    counts = {t: len(v) for t, v in harness.published.items()}
    await harness.train(better)
    await harness.train(better.model_copy(update={"metrics": {"roc_auc": 0.99}}))
    assert {t: len(v) for t, v in harness.published.items()} == counts
    assert [m.version for m in await registry.list_models("churn")] == [1, 2, 3]

    # 5. A tampered artifact (bytes differ from the sha256 in the event) is never promoted.
    genuine = make_artifacts("run-4")
    evil = artifact_store.put("run-4/evil.skops", b"not the model that was scored")
    forged = genuine.model_copy(
        update={
            "model": StoredObject(
                uri=evil.uri, sha256=genuine.model.sha256, size_bytes=evil.size_bytes
            )
        }
    )
    await harness.train(
        trained("run-4", 0.99, artifacts=forged, champion_version=3, champion_auc=0.9)
    )
    v4 = await registry.get_model("churn", 4)
    assert v4 is not None and v4.decision == "rejected" and not v4.is_champion
    assert "load check" in v4.decision_reason and "IntegrityError" in v4.decision_reason
    champion = await registry.get_champion("churn")
    assert champion is not None and champion.version == 3

    # 6. Rollback returns to the previous champion; with none left it is a 409.
    rolled = await registry.rollback("churn", reason="bad canary", actor="dave")
    assert rolled.version == 1 and rolled.is_champion
    promoted = harness.published[MODELS_PROMOTED][-1]
    assert (promoted["version"], promoted["previous_version"], promoted["reason"]) == (
        1,
        3,
        "rollback",
    )
    assert promoted["promoted_by"] == "dave"
    with pytest.raises(RegistryError) as info:
        await registry.rollback("churn", reason="again")
    assert info.value.status_code == 409

    # 7. Manual promotion of any registered version (even a rejected one).
    manual = await registry.promote("churn", 2, reason="override", actor="carol")
    assert manual.version == 2 and manual.is_champion
    assert harness.published[MODELS_PROMOTED][-1]["reason"] == "manual"
    with pytest.raises(RegistryError) as info:
        await registry.promote("churn", 42, reason="typo")
    assert info.value.status_code == 404

    # 8. The audit log tells the whole story, newest first.
    audit = await registry.audit("churn")
    assert [(e.action, e.version) for e in reversed(audit)] == [
        ("spec_applied", None),
        ("version_registered", 1),
        ("promoted", 1),
        ("version_registered", 2),
        ("rejected", 2),
        ("version_registered", 3),
        ("promoted", 3),
        ("version_registered", 4),
        ("rejected", 4),
        ("rolled_back", 1),
        ("promoted", 2),
    ]
    assert audit[0].actor == "carol" and audit[1].detail["from_version"] == 3

    # 9. Metrics.
    assert (
        harness.sample("continuum_registry_versions_registered_total", {"pipeline": "churn"}) == 4
    )
    gate = "continuum_registry_gate_decisions_total"
    assert (
        harness.sample(gate, {"pipeline": "churn", "decision": "promoted", "reason": "no_champion"})
        == 1
    )
    assert (
        harness.sample(
            gate, {"pipeline": "churn", "decision": "rejected", "reason": "not_improved"}
        )
        == 1
    )
    assert (
        harness.sample(gate, {"pipeline": "churn", "decision": "rejected", "reason": "load_failed"})
        == 1
    )
    assert harness.sample("continuum_registry_champion_version", {"pipeline": "churn"}) == 2
    # /metrics itself answers (no redirect to /metrics/, which a plain scrape does not follow).
    scraped = await harness.http.get("/metrics")
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain")
    assert "continuum_registry_champion_version" in scraped.text


async def test_failed_run_is_audited_without_a_version(
    harness: Harness, spec_yaml: str, trained: Any
) -> None:
    await harness.registry.apply_spec("churn", spec_yaml)
    await harness.train(trained("run-x", status="failed"))
    assert await harness.registry.list_models("churn") == []
    assert harness.published[MODELS_REGISTERED] == []
    entry = (await harness.registry.audit("churn"))[0]
    assert (entry.action, entry.detail["run_id"], entry.detail["reason"]) == (
        "rejected",
        "run-x",
        "out of memory",
    )


async def test_failed_runs_show_in_runs_and_in_the_pipeline_status(
    harness: Harness, spec_yaml: str, trained: Any, make_artifacts: Any
) -> None:
    assert (await harness.http.get("/v1/pipelines/churn/runs")).status_code == 404
    await harness.registry.apply_spec("churn", spec_yaml)
    record = await harness.registry.get_spec("churn")
    assert record is not None and record.status is not None
    assert record.status.summary == "no model yet: no training run has finished"

    await harness.train(trained("run-x", status="failed"))
    [run] = await harness.registry.list_runs("churn")
    assert (run.run_id, run.status, run.trigger, run.version) == (
        "run-x",
        "failed",
        "new_data",
        None,
    )
    assert run.failure_reason == "out of memory"
    record = await harness.registry.get_spec("churn")
    assert record is not None and record.status is not None
    assert not record.status.has_model and record.status.last_run == run
    assert record.status.summary == "no model: last run failed because out of memory"

    # The fixed pipeline trains: the status says what serving answers with.
    await harness.train(trained("run-y", artifacts=make_artifacts("run-y")))
    runs = await harness.registry.list_runs("churn")
    assert [(r.run_id, r.status, r.version, r.decision) for r in runs] == [
        ("run-y", "succeeded", 1, "promoted"),
        ("run-x", "failed", None, None),
    ]
    body = (await harness.http.get("/v1/pipelines/churn")).json()
    assert body["status"]["summary"] == "serving v1" and body["status"]["champion_version"] == 1
    assert len((await harness.http.get("/v1/pipelines/churn/runs?limit=1")).json()) == 1
    assert (await harness.http.get("/v1/pipelines/churn/runs?limit=0")).status_code == 422


async def test_run_for_an_unknown_pipeline_is_dead_lettered(
    harness: Harness, trained: Any, make_artifacts: Any
) -> None:
    await harness.train(trained("run-9", artifacts=make_artifacts("run-9"), pipeline="ghost"))
    [dead] = harness.published[dlq_topic(MODELS_TRAINED)]
    assert "UnknownPipelineError" in dead["_headers"]["dlq_reason"]


async def test_training_request_is_published(harness: Harness, spec_yaml: str) -> None:
    with pytest.raises(RegistryError) as info:
        await harness.registry.request_training("churn", reason="nope")
    assert info.value.status_code == 404
    await harness.registry.apply_spec("churn", spec_yaml)
    accepted = await harness.registry.request_training(
        "churn", reason="new labels", requested_by="eve"
    )
    [request] = harness.published[TRAINING_REQUESTS]
    assert request["event_id"] == accepted.event_id and request["trigger"] == "manual"
    assert (request["requested_by"], request["reason"]) == ("eve", "new labels")
    assert (await harness.registry.audit("churn"))[0].action == "training_requested"


async def test_health_and_not_found(harness: Harness) -> None:
    health = await harness.http.get("/health")
    assert health.status_code == 200
    assert health.json() | {"service": "registry"} == {
        "status": "ok",
        "service": "registry",
        "database": "ok",
        "kafka": "ok",
    }
    assert await harness.registry.get_spec("churn") is None
    assert await harness.registry.get_model("churn", 1) is None
    assert (await harness.http.get("/v1/pipelines/churn/models")).status_code == 404
    assert (await harness.http.get("/v1/pipelines/Bad Name")).status_code == 422
    assert (
        "/v1/pipelines/{name}/rollback" in (await harness.http.get("/openapi.json")).json()["paths"]
    )


def test_settings_refuse_to_start_without_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONTINUUM_REGISTRY_TOKEN", raising=False)
    monkeypatch.delenv("CONTINUUM_REGISTRY_ALLOW_INSECURE_DEV_TOKEN", raising=False)
    with pytest.raises(ValueError, match="CONTINUUM_REGISTRY_TOKEN is required"):
        RegistrySettings()
    with pytest.raises(ValueError, match="at least 8"):
        RegistrySettings(token="short")
    monkeypatch.setenv("CONTINUUM_REGISTRY_ALLOW_INSECURE_DEV_TOKEN", "1")
    one, two = RegistrySettings(), RegistrySettings()
    assert len(one.api_token.get_secret_value()) >= 24
    assert one.api_token.get_secret_value() != two.api_token.get_secret_value()
    monkeypatch.setenv("CONTINUUM_REGISTRY_TOKEN", "from-the-environment")
    monkeypatch.setenv("CONTINUUM_STATE_DIR", "/var/lib/continuum")
    settings = RegistrySettings()
    assert settings.api_token.get_secret_value() == "from-the-environment"
    assert settings.resolved_database_url() == "sqlite:////var/lib/continuum/registry.db"
    monkeypatch.setenv("CONTINUUM_REGISTRY_DATABASE_URL", "postgresql+psycopg://u@db/registry")
    assert RegistrySettings().resolved_database_url() == "postgresql+psycopg://u@db/registry"


async def test_events_left_in_the_outbox_are_published_later(
    tmp_path: Path, artifact_store: ObjectStore, spec_yaml: str
) -> None:
    # A spec stored while Kafka was away: the change is durable, its event still pending.
    settings = registry_settings(tmp_path, artifact_store)
    offline = SqlRegistryStore.from_url(settings.resolved_database_url())
    offline.setup()
    offline.apply_spec(parse_spec_yaml(spec_yaml), "alice", announcements.spec_applied())
    offline.close()
    async with running(settings) as harness:
        await harness.app.state.registry.flush_outbox()
        [changed] = harness.published[PIPELINES_CHANGED]
        assert changed["spec_version"] == 1
        assert await harness.app.state.registry.flush_outbox() == 0


class FlakyStore(SqlRegistryStore):
    """The database goes away after start-up."""

    def has_run(self, run_id: str) -> bool:
        raise StoreUnavailableError("database restarting")


async def test_database_outage_makes_the_run_redeliverable(
    tmp_path: Path, artifact_store: ObjectStore, trained: Any
) -> None:
    settings = registry_settings(tmp_path, artifact_store)
    flaky = FlakyStore.from_url(settings.resolved_database_url())
    async with running(settings, store=flaky) as harness:
        # In memory there is no redelivery: the transient error reaches the publisher
        # instead of the dead-letter topic (a real broker seeks back and retries).
        with pytest.raises(TransientError):
            await harness.train(trained("run-1"))
        assert harness.published[dlq_topic(MODELS_TRAINED)] == []
        assert (await harness.http.get("/v1/pipelines")).status_code == 200
