"""Ingest's settings: the shared service settings plus the registry and consumer knobs."""

from __future__ import annotations

from pydantic import AliasChoices, Field

from continuum.kafka import KafkaSettings
from continuum.runtime import RegistryCallerSettings


class IngestSettings(RegistryCallerSettings):
    """Read from ``CONTINUUM_*`` (shared) and ``CONTINUUM_INGEST_*`` (ingest's own)."""

    service_name: str = "ingest"
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    http_port: int = Field(default=8101, ge=0, le=65535)
    group_id: str = Field(
        default="continuum-ingest",
        validation_alias=AliasChoices("CONTINUUM_INGEST_GROUP_ID", "group_id"),
        description="Consumer group of the source topics (offsets live here).",
    )
    spec_group_id: str = Field(
        default="continuum-ingest-specs",
        validation_alias=AliasChoices("CONTINUUM_INGEST_SPEC_GROUP_ID", "spec_group_id"),
        description="Consumer group of continuum.pipelines.changed.",
    )
    poll_max_records: int = Field(
        default=2000,
        ge=1,
        validation_alias=AliasChoices("CONTINUUM_INGEST_POLL_MAX_RECORDS", "poll_max_records"),
    )
    tick_seconds: float = Field(
        default=0.25,
        gt=0,
        validation_alias=AliasChoices("CONTINUUM_INGEST_TICK_SECONDS", "tick_seconds"),
        description="Longest wait for records; also the flush timer's resolution.",
    )
    spec_refresh_seconds: float = Field(
        default=30.0,
        gt=0,
        validation_alias=AliasChoices(
            "CONTINUUM_INGEST_SPEC_REFRESH_SECONDS", "spec_refresh_seconds"
        ),
        description="Full re-read of the registry's pipelines (a missed change is caught up).",
    )
    metadata_refresh_seconds: float = Field(
        default=5.0,
        gt=0,
        validation_alias=AliasChoices(
            "CONTINUUM_INGEST_METADATA_REFRESH_SECONDS", "metadata_refresh_seconds"
        ),
        description="How soon a source topic created after the subscription is noticed.",
    )
    retry_backoff_seconds: float = Field(
        default=0.5,
        gt=0,
        validation_alias=AliasChoices(
            "CONTINUUM_INGEST_RETRY_BACKOFF_SECONDS", "retry_backoff_seconds"
        ),
        description="First wait after a failure (registry, Kafka, storage); doubles to 30 s.",
    )
