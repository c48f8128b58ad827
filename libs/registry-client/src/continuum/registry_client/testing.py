"""``FakeRegistry``: the registry's read API in memory, for the services' tests.

It answers HTTP (through ``httpx.MockTransport``), so a service under test talks to it
with the real :class:`RegistryClient`: the same paths, bodies, 404s and connection
errors as against the registry itself. A test fills it with :meth:`FakeRegistry.apply`
and :meth:`FakeRegistry.add_model`, and makes it unreachable for the next
``unreachable_calls`` requests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import httpx

from continuum.contracts import ModelArtifacts, PipelineSpec
from continuum.registry_client.api_models import (
    ModelVersionRecord,
    PipelineSpecRecord,
    PipelineSummary,
    RolloutRecord,
)
from continuum.registry_client.client import RegistryClient

CREATED_AT = datetime(2026, 1, 1, tzinfo=UTC)
"""When every fake spec and model version was created."""

_SPEC = re.compile(r"/v1/pipelines/(?P<name>[^/]+)(?:/specs/(?P<version>\d+))?")
_CHAMPION = re.compile(r"/v1/pipelines/(?P<name>[^/]+)/champion")
_ROLLOUT = re.compile(r"/v1/pipelines/(?P<name>[^/]+)/rollout")
_MODEL = re.compile(r"/v1/pipelines/(?P<name>[^/]+)/models/(?P<version>\d+)")


@dataclass
class FakeRegistry:
    """Pipelines (every spec version), model versions and champions, served over HTTP."""

    specs: dict[str, list[PipelineSpec]] = field(default_factory=dict)
    """Each pipeline's spec versions, oldest first (version = position + 1)."""
    models: dict[tuple[str, int], ModelVersionRecord] = field(default_factory=dict)
    champions: dict[str, int] = field(default_factory=dict)
    rollouts: dict[str, RolloutRecord] = field(default_factory=dict)
    """Each pipeline's current or latest rollout (set it, or use :meth:`set_rollout`)."""
    unreachable_calls: int = 0
    """The next this many requests fail as if the registry were down."""
    calls: list[str] = field(default_factory=list)
    """The path of every request, in order."""

    def apply(self, spec: PipelineSpec) -> int:
        """Add ``spec`` as its pipeline's next version; returns that version."""
        versions = self.specs.setdefault(spec.name, [])
        versions.append(spec)
        return len(versions)

    def add_model(
        self,
        pipeline: str,
        version: int,
        artifacts: ModelArtifacts,
        *,
        champion: bool = False,
        **fields: Any,
    ) -> ModelVersionRecord:
        """Register model ``version`` (``fields`` override the record's defaults)."""
        record = ModelVersionRecord.model_validate(
            {
                "pipeline": pipeline,
                "version": version,
                "run_id": f"run-{version}",
                "trigger": "manual",
                "spec_version": 1,
                "decision": "promoted",
                "decision_reason": "test",
                "artifacts": artifacts,
                "correlation_id": str(uuid4()),
                "created_at": CREATED_AT,
                **fields,
            }
        )
        self.models[(pipeline, version)] = record
        if champion:
            self.champions[pipeline] = version
        return record

    def set_rollout(self, pipeline: str, **fields: Any) -> RolloutRecord:
        """Make ``fields`` (over a started canary of version 2 against 1) the pipeline's
        rollout, as the registry reports it after a ``RolloutChanged``."""
        record = RolloutRecord.model_validate(
            {
                "pipeline": pipeline,
                "rollout_id": f"{pipeline}-rollout-1",
                "strategy": "canary",
                "champion_version": 1,
                "candidate_version": 2,
                "step": 0,
                "traffic_share": 0.1,
                "state": "started",
                "started_at": CREATED_AT,
                "step_started_at": CREATED_AT,
                "updated_at": CREATED_AT,
                **fields,
            }
        )
        self.rollouts[pipeline] = record
        return record

    def transport(self) -> httpx.MockTransport:
        """The transport a :class:`RegistryClient` reaches this fake through."""
        return httpx.MockTransport(self.handle)

    def client(self, base_url: str = "http://registry.test") -> RegistryClient:
        """A real client of this fake."""
        return RegistryClient(base_url, transport=self.transport())

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one request the way the registry's read routes do."""
        path = request.url.path
        self.calls.append(path)
        if self.unreachable_calls > 0:
            self.unreachable_calls -= 1
            raise httpx.ConnectError("connection refused (fake registry)", request=request)
        if path == "/v1/pipelines":
            return _json([self._summary(name).model_dump(mode="json") for name in self.specs])
        if m := _CHAMPION.fullmatch(path):
            version = self.champions.get(m["name"])
            if version is None:
                return _not_found("no champion")
            return self._model(m["name"], version)
        if m := _ROLLOUT.fullmatch(path):
            rollout = self.rollouts.get(m["name"])
            if rollout is None:
                return _not_found("no rollout")
            return httpx.Response(200, content=rollout.model_dump_json().encode())
        if m := _MODEL.fullmatch(path):
            return self._model(m["name"], int(m["version"]))
        if m := _SPEC.fullmatch(path):
            versions = self.specs.get(m["name"], [])
            version = int(m["version"]) if m["version"] else len(versions)
            if not 1 <= version <= len(versions):
                return _not_found("no such spec")
            spec = versions[version - 1]
            record = PipelineSpecRecord(
                name=m["name"],
                spec_version=version,
                spec_sha256=spec.sha256(),
                spec=spec,
                created_at=CREATED_AT,
            )
            return httpx.Response(200, content=record.model_dump_json(by_alias=True).encode())
        return _not_found(f"no route {path}")

    def _summary(self, name: str) -> PipelineSummary:
        spec = self.specs[name][-1]
        return PipelineSummary(
            name=name,
            spec_version=len(self.specs[name]),
            source_topic=spec.source_topic,
            task=spec.task,
            champion_version=self.champions.get(name),
            model_versions=sum(1 for pipeline, _ in self.models if pipeline == name),
        )

    def _model(self, pipeline: str, version: int) -> httpx.Response:
        record = self.models.get((pipeline, version))
        if record is None:
            return _not_found("no such model")
        body = record.model_copy(update={"is_champion": self.champions.get(pipeline) == version})
        return httpx.Response(200, content=body.model_dump_json().encode())


def _json(body: Any) -> httpx.Response:
    return httpx.Response(200, json=body)


def _not_found(detail: str) -> httpx.Response:
    return httpx.Response(404, json={"detail": detail})
