"""The monitor's settings: shared service settings plus its windows, joins and state folder.

Read from the environment by ``MonitorSettings()`` (``CONTINUUM_*`` and
``CONTINUUM_MONITOR_*``), never at import time.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from continuum.kafka import KafkaSettings
from continuum.runtime import RegistryCallerSettings


class MonitorSettings(RegistryCallerSettings):
    """Everything ``continuum.monitor`` reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="CONTINUUM_MONITOR_")

    service_name: str = "monitor"
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    http_port: int = Field(default=8500, ge=0, le=65535)
    state_dir: Path = Field(
        default=Path(".continuum/monitor"),
        description="Where the drift cooldown's last-fired times survive restarts.",
    )
    consumer_group: str = Field(default="continuum-monitor")
    seen_event_ids: int = Field(
        default=100_000,
        ge=1,
        description="Event ids remembered for idempotency (a bounded LRU).",
    )
    joinable_predictions: int = Field(
        default=100_000,
        ge=1,
        description="Logged predictions kept for joining delayed feedback (a bounded LRU).",
    )
    quality_window_rows: int = Field(
        default=1000,
        ge=1,
        description="Labelled predictions per model version that quality metrics are over.",
    )
    registry_retry_seconds: float = Field(
        default=1.0,
        gt=0,
        description="First backoff while the registry is unreachable at start (doubles to 30 s).",
    )
