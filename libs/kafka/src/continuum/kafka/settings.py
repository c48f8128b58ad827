"""Settings every service shares: the Kafka connection, its HTTP port, where data lives.

Read from the environment (``CONTINUUM_KAFKA_*`` and ``CONTINUUM_*``) when a service's
``create_app`` builds them, never at import time.
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


class ServiceSettings(BaseSettings):
    """What every Continuum service needs; each service subclasses this with its own fields."""

    # populate_by_name: tests pass fields by name, processes use the environment.
    model_config = SettingsConfigDict(
        env_prefix="CONTINUUM_", extra="ignore", populate_by_name=True
    )

    service_name: str = "continuum"
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=0, le=65535)
    data_root: str = Field(
        default="file://./.continuum/data", description="Offline store URI (file:// by default)."
    )
    artifact_root: str = Field(
        default="file://./.continuum/artifacts", description="Artifact store URI."
    )


class RegistryCallerSettings(ServiceSettings):
    """A service that reads pipeline specs and champions from the registry's HTTP API."""

    registry_url: str = Field(
        default="http://127.0.0.1:8100", description="CONTINUUM_REGISTRY_URL: the registry."
    )
    registry_token: SecretStr | None = Field(
        default=None,
        description="CONTINUUM_REGISTRY_TOKEN: sent as a bearer token (needed for writes only).",
    )

    @property
    def registry_bearer(self) -> str | None:
        """The token in clear, for the HTTP client."""
        return self.registry_token.get_secret_value() if self.registry_token else None
