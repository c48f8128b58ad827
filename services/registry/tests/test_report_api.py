"""``GET /v1/pipelines/{name}/models/{v}/report``: the run's HTML, sha256-checked."""

from __future__ import annotations

from typing import Any

import pytest
from registry_testkit import ArtifactMaker, Harness

from continuum.registry_client import RegistryError
from continuum.storage import ObjectStore

PAGE = b"<html><body><h1>Model report</h1></body></html>"


async def test_the_report_is_served_as_stored_and_refused_when_tampered(
    harness: Harness,
    spec_yaml: str,
    trained: Any,
    make_artifacts: ArtifactMaker,
    artifact_store: ObjectStore,
) -> None:
    await harness.registry.apply_spec("churn", spec_yaml)
    good = make_artifacts.metrics("good")["roc_auc"]
    with_report = make_artifacts("run-1", "good").model_copy(
        update={"report": artifact_store.put("run-1/report.html", PAGE)}
    )
    await harness.train(trained("run-1", good, artifacts=with_report))
    assert await harness.registry.get_report("churn", 1) == PAGE
    response = await harness.http.get("/v1/pipelines/churn/models/1/report")
    assert response.headers["content-type"].startswith("text/html")

    # A version whose recorded sha256 does not match the stored bytes is not served.
    stored = artifact_store.put("run-2/report.html", b"<html>changed after the run</html>")
    tampered = make_artifacts("run-2", "fair").model_copy(
        update={"report": stored.model_copy(update={"sha256": "0" * 64})}
    )
    await harness.train(trained("run-2", None, artifacts=tampered, champion_version=1))
    with pytest.raises(RegistryError) as refused:
        await harness.registry.get_report("churn", 2)
    assert refused.value.status_code == 502

    await harness.train(trained("run-3", None, artifacts=make_artifacts("run-3", "fair")))
    for version in (3, 9):  # no report recorded; no such version
        with pytest.raises(RegistryError) as missing:
            await harness.registry.get_report("churn", version)
        assert missing.value.status_code == 404
