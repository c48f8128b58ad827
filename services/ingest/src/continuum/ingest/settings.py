"""Ingest's settings: the shared service settings plus the registry and consumer knobs."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from continuum.kafka import KafkaSettings
from continuum.runtime import RegistryCallerSettings


class IngestSettings(RegistryCallerSettings):
    """Read from ``CONTINUUM_*`` (shared) and ``CONTINUUM_INGEST_*`` (ingest's own)."""

    model_config = SettingsConfigDict(env_prefix="CONTINUUM_INGEST_")

    service_name: str = "ingest"
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    http_port: int = Field(default=8101, ge=0, le=65535)
    group_id: str = Field(
        default="continuum-ingest",
        description="Consumer group of the source topics (offsets live here).",
    )
    spec_group_id: str = Field(
        default="continuum-ingest-specs",
        description="Consumer group of continuum.pipelines.changed.",
    )
    poll_max_records: int = Field(
        default=20_000,
        ge=1,
        description="Most records one poll hands the engine (checked as one run per partition).",
    )
    in_flight_steps: int = Field(
        default=4,
        ge=1,
        description=(
            "Poll steps whose batch writes may still be running while the next polls are "
            "checked (offsets are committed only once what they cover is durable); bounds "
            "the rows held in memory to about this many polls."
        ),
    )
    gc_gen0_threshold: int = Field(
        default=50_000,
        ge=0,
        description=(
            "Allocations between young garbage collections once started (Python's default "
            "is 700; the start-up heap is frozen too); 0 leaves the collector as it is."
        ),
    )
    tick_seconds: float = Field(
        default=0.25,
        gt=0,
        description="Longest wait for records; also the flush timer's resolution.",
    )
    spec_refresh_seconds: float = Field(
        default=30.0,
        gt=0,
        description="Full re-read of the registry's pipelines (a missed change is caught up).",
    )
    metadata_refresh_seconds: float = Field(
        default=5.0,
        gt=0,
        description="How soon a source topic created after the subscription is noticed.",
    )
    retry_backoff_seconds: float = Field(
        default=0.5,
        gt=0,
        description="First wait after a failure (registry, Kafka, storage); doubles to 30 s.",
    )
