"""Trainer settings: the shared service settings plus where state lives and how to train."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from continuum.kafka import KafkaSettings
from continuum.runtime import RegistryCallerSettings


class TrainerSettings(RegistryCallerSettings):
    """Read from ``CONTINUUM_*`` (shared) and ``CONTINUUM_TRAINER_*`` (trainer only)."""

    model_config = SettingsConfigDict(env_prefix="CONTINUUM_TRAINER_")

    service_name: str = "trainer"
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    state_dir: Path = Field(default=Path("./.continuum/state/trainer"))
    worker_mode: Literal["process", "thread"] = Field(
        default="process",
        description="'process' in production; 'thread' only for memory:// stores in tests.",
    )
    mp_context: Literal["spawn", "forkserver"] = Field(
        default="spawn",
    )
    tick_seconds: float = Field(
        default=2.0,
        gt=0,
        description="How often schedules and deferred new-data triggers are checked.",
    )
    reference_max_rows: int = Field(
        default=5000,
        ge=10,
    )
    report_max_rows: int = Field(
        default=2000,
        ge=0,
        description="Training and holdout rows sampled into each run's HTML report; 0: none.",
    )
    worker_threads: int = Field(
        default=1,
        ge=1,
        description="OpenMP/BLAS threads a training run may use.",
    )
    retry_max_seconds: float = Field(
        default=30.0,
        gt=0,
        description="Longest wait between retries of the registry or the broker.",
    )
    failed_run_retry_seconds: float = Field(
        default=30.0,
        gt=0,
        description="Wait before retrying a failed automatic run; doubles on each failure.",
    )
    failed_run_retry_max_seconds: float = Field(
        default=900.0,
        gt=0,
        description="Longest wait between retries of a failed run.",
    )
    failed_run_retries: int = Field(
        default=6,
        ge=0,
        description="Retries after failed runs in a row; then wait for a new trigger or spec.",
    )
