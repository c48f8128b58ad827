"""Settings every service shares: its HTTP address, where data lives, the registry's URL.

One style for every service: the shared fields declared here are read as ``CONTINUUM_<FIELD>``
(``CONTINUUM_HTTP_PORT``, ``CONTINUUM_STATE_DIR``, ``CONTINUUM_REGISTRY_URL`` ...), and a
service's own fields with its ``env_prefix`` (``CONTINUUM_INGEST_TICK_SECONDS``). Each service
subclasses :class:`ServiceSettings` (or :class:`RegistryCallerSettings`), sets its prefix in
``model_config`` and adds the Kafka connection (``continuum.kafka.KafkaSettings``). Read from
the environment when a service's ``create_app`` builds them, never at import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Self

from pydantic import Field, SecretStr, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

SHARED_PREFIX = "CONTINUUM_"


class _Only(PydanticBaseSettingsSource):
    """The values of ``source`` for some fields only."""

    def __init__(self, source: PydanticBaseSettingsSource, fields: frozenset[str], keep: bool):
        super().__init__(source.settings_cls)
        self.source = source
        self.fields = fields
        self.keep = keep

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self.source.get_field_value(field, field_name)

    def __call__(self) -> dict[str, Any]:
        return {k: v for k, v in self.source().items() if (k in self.fields) == self.keep}


class ServiceSettings(BaseSettings):
    """What every Continuum service needs; each service subclasses this with its own fields."""

    # populate_by_name: tests pass fields by name, processes use the environment.
    model_config = SettingsConfigDict(
        env_prefix=SHARED_PREFIX, extra="ignore", populate_by_name=True
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
    state_dir: Path = Field(
        default=Path(".continuum/state"), description="Durable local state of this service."
    )
    online_store_uri: str = Field(
        default="",
        description="CONTINUUM_ONLINE_STORE_URI: the online feature store (sqlite:///abs/path.db,"
        " redis://host:port/db or memory://); empty means sqlite:///<state_dir>/online.db.",
    )

    @model_validator(mode="after")
    def _online_store_defaults_to_sqlite(self) -> Self:
        # Derived after validation so a service's own state_dir default (or the
        # environment's) decides where the embedded store lives.
        if not self.online_store_uri:
            folder = self.state_dir.expanduser().resolve()
            self.online_store_uri = f"sqlite:///{folder / 'online.db'}"
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Shared fields from ``CONTINUUM_*``, the service's own from its ``env_prefix``."""
        shared = EnvSettingsSource(settings_cls, env_prefix=SHARED_PREFIX)
        return (
            init_settings,
            _Only(env_settings, SHARED_FIELDS, keep=False),
            _Only(shared, SHARED_FIELDS, keep=True),
            dotenv_settings,
            file_secret_settings,
        )

    @classmethod
    def env_name(cls, field: str) -> str:
        """The environment variable ``field`` is read from."""
        if field in SHARED_FIELDS:
            return f"{SHARED_PREFIX}{field}".upper()
        return f"{cls.model_config.get('env_prefix', '')}{field}".upper()


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


SHARED_FIELDS = frozenset(RegistryCallerSettings.model_fields)
"""The fields every service reads under ``CONTINUUM_`` whatever its own prefix."""
