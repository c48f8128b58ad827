"""How a service reaches Kafka: ``CONTINUUM_KAFKA_*`` (bootstrap servers, TLS, SASL, retries,
the deployment's event key).

Read from the environment when a service's settings are built, never at import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


class KafkaSettings(BaseSettings):
    """How to reach the Kafka cluster, secured or not."""

    model_config = SettingsConfigDict(env_prefix="CONTINUUM_KAFKA_", extra="ignore")

    bootstrap_servers: str = Field(
        default="127.0.0.1:9092", description="Comma-separated host:port list."
    )
    client_id: str | None = None
    security_protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    event_key: SecretStr | None = Field(
        default=None,
        description=(
            "The deployment's event key (16+ bytes): signs every event this service publishes "
            "and verifies every event it reads. Required, unless event_key_file is set."
        ),
    )
    event_key_file: Path | None = Field(
        default=None,
        description=(
            "A file holding the event key instead (a Docker or Kubernetes secret): its first "
            "non-blank line signs; further lines are older keys, still accepted."
        ),
    )
    event_keys_previous: SecretStr | None = Field(
        default=None,
        description="Comma-separated older event keys still accepted while a key is rotated.",
    )
    transient_retry_backoff_seconds: float = Field(
        default=0.5, gt=0, description="First wait before redelivering after a transient error."
    )
    transient_max_attempts: int = Field(
        default=8,
        ge=1,
        description="Transient failures of one message before it goes to the DLQ instead.",
    )

    @model_validator(mode="after")
    def _sasl_is_complete(self) -> Self:
        if self.security_protocol.startswith("SASL"):
            missing = [
                name
                for name in ("sasl_mechanism", "sasl_username", "sasl_password")
                if getattr(self, name) is None
            ]
            if missing:
                raise ValueError(
                    f"security_protocol={self.security_protocol} needs "
                    + ", ".join(f"CONTINUUM_KAFKA_{m.upper()}" for m in missing)
                )
        return self

    @property
    def uses_tls(self) -> bool:
        """Whether the connection is encrypted."""
        return self.security_protocol in ("SSL", "SASL_SSL")
