"""Serving's settings: the shared service settings plus the model-serving knobs.

Read from the environment by ``ServingSettings()`` (``CONTINUUM_*`` and
``CONTINUUM_SERVING_*``), never at import time.
"""

from __future__ import annotations

from uuid import uuid4

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from continuum.kafka import KafkaSettings
from continuum.runtime import RegistryCallerSettings


def _instance_id() -> str:
    return uuid4().hex[:12]


class ServingSettings(RegistryCallerSettings):
    """Everything ``continuum.serving`` reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="CONTINUUM_SERVING_")

    service_name: str = "serving"
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    http_port: int = Field(default=8400, ge=0, le=65535)
    instance_id: str = Field(
        default_factory=_instance_id,
        pattern=r"^[A-Za-z0-9._-]{1,64}$",
        description=(
            "Names this replica's own consumer group (continuum-serving-<id>): every replica "
            "must see every promotion. Random per start unless pinned (e.g. a pod name)."
        ),
    )
    log_queue_size: int = Field(
        default=100_000,
        ge=1,
        description=(
            "Predictions waiting to be published; beyond this they are dropped (and counted). "
            "Only reached while Kafka is slow or down: the log publishes faster than serving "
            "predicts."
        ),
    )
    log_batch_size: int = Field(
        # 1,000, not 500: with the rollout fields the drain fell behind at full load on
        # one core (5% of predictions dropped in bench/serving_bench.py); fewer, larger
        # messages halve its per-message cost (still under MAX_MESSAGE_BYTES, else split).
        default=1_000,
        ge=1,
        description="Predictions per PredictionsLogged message (a larger request goes alone).",
    )
    log_drain_seconds: float = Field(
        default=5.0,
        ge=0,
        description="On shutdown, how long to keep publishing queued predictions.",
    )
    max_records: int = Field(
        default=1000,
        ge=1,
        description="Records per predict request; more is a 422 naming this limit.",
    )
    max_body_bytes: int = Field(
        default=1 << 20,
        ge=1024,
        description=(
            "Largest request body (1 MiB); a larger one is answered 413 before it is read, "
            "so a request never holds more than this (plus one chunk) in memory."
        ),
    )
    batch_max_rows: int = Field(
        default=1000,
        ge=1,
        description="Concurrent requests are predicted together up to this many rows.",
    )
    inline_max_rows: int = Field(
        default=0,
        ge=0,
        description=(
            "Prediction batches of at most this many rows run on the event loop; larger ones "
            "in a worker thread. 0 = always in a thread (see bench/serving_bench.py)."
        ),
    )
    shadow_queue_size: int = Field(
        default=10_000,
        ge=1,
        description=(
            "Records waiting for a shadow rollout's candidate; beyond this their copies are "
            "dropped (and counted), never waited for: the champion has already answered."
        ),
    )
    registry_retry_seconds: float = Field(
        default=1.0,
        gt=0,
        description="First backoff while the registry is unreachable (doubles up to 30 s).",
    )
    reconcile_seconds: float = Field(
        default=60.0,
        ge=0,
        description=(
            "How often to compare the serving champions with the registry's, to repair a "
            "missed promotion event. 0 disables."
        ),
    )

    @property
    def consumer_group(self) -> str:
        """This replica's own consumer group: promotions are broadcast, not shared out."""
        return f"continuum-serving-{self.instance_id}"
