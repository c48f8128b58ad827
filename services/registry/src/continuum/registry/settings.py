"""The registry's settings: shared service settings plus its database and API token.

Built from the environment by ``__main__`` (never at import time). The registry refuses
to start without ``CONTINUUM_REGISTRY_TOKEN`` unless development mode is asked for
explicitly, and it never ships a default secret.
"""

from __future__ import annotations

import logging
import secrets
from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from continuum.kafka import KafkaSettings
from continuum.runtime import ServiceSettings

logger = logging.getLogger(__name__)

MIN_TOKEN_CHARS = 8


class RegistrySettings(ServiceSettings):
    """Settings of ``continuum.registry`` (env ``CONTINUUM_*`` and ``CONTINUUM_REGISTRY_*``)."""

    model_config = SettingsConfigDict(env_prefix="CONTINUUM_REGISTRY_")

    service_name: str = "registry"
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    http_port: int = Field(default=8100, ge=0, le=65535)
    state_dir: Path = Field(
        default=Path(".continuum"),
        description="Durable local state (the SQLite file lives here by default).",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; sqlite:///... (default) or postgresql+psycopg://...",
    )
    token: SecretStr | None = Field(
        default=None,
        description="Bearer token every write call must present.",
    )
    allow_insecure_dev_token: bool = Field(
        default=False,
        description="Without a token, make up a random one and log it (development only).",
    )
    outbox_poll_seconds: float = Field(
        default=2.0,
        gt=0,
        description="How often events still waiting in the outbox are retried.",
    )

    kafka_start_timeout_seconds: float = Field(
        default=60.0,
        gt=0,
        description="How long to keep retrying the first Kafka connection at start.",
    )
    max_holdout_rows: int = Field(
        default=50_000,
        ge=100,
        description=(
            "Most holdout rows the gate scores a candidate and the champion on; a larger "
            "holdout is sampled (seeded, so a redelivered run gets the same decision)."
        ),
    )
    rollout_tick_seconds: float = Field(
        default=1.0,
        gt=0,
        description=(
            "How often live rollouts are checked against their steps' min_seconds and"
            " max_step_seconds (verdicts themselves are acted on as they arrive)."
        ),
    )
    score_timeout_seconds: float = Field(
        default=120.0,
        gt=0,
        description="A candidate not scored (with the champion) within this is rejected.",
    )
    max_body_bytes: int = Field(
        default=1 << 20,
        ge=1024,
        description=(
            "Largest request body (1 MiB; a spec is at most 256 KiB of YAML); a larger one "
            "is answered 413 before it is read, before the token is even checked."
        ),
    )

    @model_validator(mode="after")
    def _has_a_token(self) -> Self:
        if self.token is None:
            if not self.allow_insecure_dev_token:
                raise ValueError(
                    "CONTINUUM_REGISTRY_TOKEN is required (set CONTINUUM_REGISTRY_"
                    "ALLOW_INSECURE_DEV_TOKEN=1 to get a random one in development)"
                )
            generated = secrets.token_urlsafe(24)
            self.token = SecretStr(generated)
            logger.warning(
                "no CONTINUUM_REGISTRY_TOKEN: generated a development token: %s", generated
            )
        elif len(self.token.get_secret_value()) < MIN_TOKEN_CHARS:
            raise ValueError(
                f"CONTINUUM_REGISTRY_TOKEN must have at least {MIN_TOKEN_CHARS} characters"
            )
        return self

    @property
    def api_token(self) -> SecretStr:
        """The write token (always set after validation)."""
        assert self.token is not None
        return self.token

    def resolved_database_url(self) -> str:
        """The configured URL, or a SQLite file in the state folder (``./.continuum``)."""
        if self.database_url:
            return self.database_url
        folder = self.state_dir.expanduser().resolve()
        return f"sqlite:///{folder / 'registry.db'}"
