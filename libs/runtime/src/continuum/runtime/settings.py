"""Settings every service shares: its HTTP address, where data lives, the registry's URL.

Read from the environment (``CONTINUUM_*``) when a service's ``create_app`` builds them,
never at import time. Each service subclasses :class:`ServiceSettings` with its own fields
and adds the Kafka connection (``continuum.kafka.KafkaSettings``).
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """What every Continuum service needs; each service subclasses this with its own fields."""

    # populate_by_name: tests pass fields by name, processes use the environment.
    model_config = SettingsConfigDict(
        env_prefix="CONTINUUM_", extra="ignore", populate_by_name=True
    )

    service_name: str = "continuum"
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
