"""Trainer settings: the shared service settings plus where state lives and how to train."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field

from continuum.kafka import KafkaSettings
from continuum.runtime import RegistryCallerSettings


class TrainerSettings(RegistryCallerSettings):
    """Read from ``CONTINUUM_*`` (shared) and ``CONTINUUM_TRAINER_*`` (trainer only)."""

    service_name: str = "trainer"
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    state_dir: Path = Field(default=Path("./.continuum/state/trainer"))
    worker_mode: Literal["process", "thread"] = Field(
        default="process",
        validation_alias=AliasChoices("CONTINUUM_TRAINER_WORKER_MODE", "worker_mode"),
        description="'process' in production; 'thread' only for memory:// stores in tests.",
    )
    mp_context: Literal["spawn", "forkserver"] = Field(
        default="spawn",
        validation_alias=AliasChoices("CONTINUUM_TRAINER_MP_CONTEXT", "mp_context"),
    )
    tick_seconds: float = Field(
        default=2.0,
        gt=0,
        validation_alias=AliasChoices("CONTINUUM_TRAINER_TICK_SECONDS", "tick_seconds"),
        description="How often schedules and deferred new-data triggers are checked.",
    )
    reference_max_rows: int = Field(
        default=5000,
        ge=10,
        validation_alias=AliasChoices("CONTINUUM_TRAINER_REFERENCE_MAX_ROWS", "reference_max_rows"),
    )
    worker_threads: int = Field(
        default=1,
        ge=1,
        validation_alias=AliasChoices("CONTINUUM_TRAINER_WORKER_THREADS", "worker_threads"),
        description="OpenMP/BLAS threads a training run may use.",
    )
    retry_max_seconds: float = Field(
        default=30.0,
        gt=0,
        validation_alias=AliasChoices("CONTINUUM_TRAINER_RETRY_MAX_SECONDS", "retry_max_seconds"),
        description="Longest wait between retries of the registry or the broker.",
    )
    failed_run_retry_seconds: float = Field(
        default=30.0,
        gt=0,
        validation_alias=AliasChoices(
            "CONTINUUM_TRAINER_FAILED_RUN_RETRY_SECONDS", "failed_run_retry_seconds"
        ),
        description="Wait before retrying a failed automatic run; doubles on each failure.",
    )
    failed_run_retry_max_seconds: float = Field(
        default=900.0,
        gt=0,
        validation_alias=AliasChoices(
            "CONTINUUM_TRAINER_FAILED_RUN_RETRY_MAX_SECONDS", "failed_run_retry_max_seconds"
        ),
        description="Longest wait between retries of a failed run.",
    )
    failed_run_retries: int = Field(
        default=6,
        ge=0,
        validation_alias=AliasChoices("CONTINUUM_TRAINER_FAILED_RUN_RETRIES", "failed_run_retries"),
        description="Retries after failed runs in a row; then wait for a new trigger or spec.",
    )
