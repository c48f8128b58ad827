"""Reads docker-compose.yml the way Compose does, and maps it onto the services' settings.

Only what the compose test needs: variable interpolation (``${VAR}``, ``${VAR:?err}``,
``${VAR:-default}``), environment blocks (merged anchors included, via PyYAML), volume and
port mappings, and the environment variable names a pydantic-settings class reads.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import AliasChoices, BaseModel
from pydantic_settings import BaseSettings

from continuum.runtime import ServiceSettings

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
SERVICES = ("registry", "ingest", "trainer", "serving", "monitor")
"""The five Continuum services, in the order they start (the registry first)."""

_VARIABLE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[?-])?(?P<arg>[^}]*)\}")


class MissingVariableError(KeyError):
    """A ``${VAR:?message}`` whose variable is unset or empty (Compose refuses to start)."""


def load_compose() -> dict[str, Any]:
    """The parsed compose file (YAML anchors and ``<<`` merges resolved)."""
    data = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(data, dict)
    return data


def variables(text: str) -> list[tuple[str, str | None]]:
    """Every ``${...}`` in ``text``: (name, operator such as ``:?``, or None)."""
    return [(m["name"], m["op"]) for m in _VARIABLE.finditer(text)]


def interpolate(value: str, env: Mapping[str, str]) -> str:
    """Compose's substitution of ``${...}`` in one value (``$$`` is a literal ``$``)."""

    def substitute(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"]
        current = env.get(name)
        missing = current is None or (current == "" and op is not None and op.startswith(":"))
        if op in ("?", ":?") and missing:
            raise MissingVariableError(f"{name}: {arg}")
        if op in ("-", ":-") and missing:
            return arg
        return current or ""

    return _VARIABLE.sub(substitute, value.replace("$$", "\0")).replace("\0", "$")


def environment(service: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, str]:
    """A compose service's environment, interpolated, every value a string."""
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) for item in raw)
    return {key: interpolate(_as_text(value), env) for key, value in raw.items()}


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True)
class Mount:
    """One entry of a service's ``volumes``: a named volume or a bind mount."""

    source: str
    target: str
    read_only: bool

    @property
    def is_bind(self) -> bool:
        """Whether the source is a host path (``./...`` or absolute) rather than a volume."""
        return self.source.startswith((".", "/", "~"))


def mounts(service: Mapping[str, Any]) -> list[Mount]:
    """The service's volumes (short syntax ``source:target[:ro]``)."""
    result = []
    for entry in service.get("volumes") or []:
        assert isinstance(entry, str), f"only the short volume syntax is used: {entry!r}"
        source, target, *mode = entry.split(":")
        result.append(Mount(source, target, read_only="ro" in mode))
    return result


def mount_for(path: str, service: Mapping[str, Any]) -> Mount | None:
    """The mount a container path lies in (the deepest one), if any."""
    found = [
        m
        for m in mounts(service)
        if path == m.target or path.startswith(m.target.rstrip("/") + "/")
    ]
    return max(found, key=lambda m: len(m.target)) if found else None


def published_ports(service: Mapping[str, Any]) -> dict[int, int]:
    """Host port -> container port (short syntax ``"host:container"``)."""
    ports = {}
    for entry in service.get("ports") or []:
        host, container = str(entry).rsplit(":", 1)
        ports[int(host.rsplit(":", 1)[-1])] = int(container)
    return ports


def settings_class(service: str) -> type[ServiceSettings]:
    """The ``ServiceSettings`` subclass defined in ``continuum.<service>.settings``."""
    module = importlib.import_module(f"continuum.{service}.settings")
    found = [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, ServiceSettings)
        and value.__module__ == module.__name__
    ]
    assert len(found) == 1, f"{module.__name__} defines {found}"
    return found[0]


def env_names(cls: type[BaseSettings]) -> dict[str, tuple[str, ...]]:
    """Upper-cased environment variable -> the field path it sets, for a settings class.

    Nested settings classes (the shared ``kafka`` block) are read with their own prefix.
    Alias choices that do not start with the class's prefix are names for keyword
    arguments in tests, not environment variables, and are left out.
    """
    prefix = str(cls.model_config.get("env_prefix", "")).upper()
    names: dict[str, tuple[str, ...]] = {}
    for name, info in cls.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseSettings):
            for env, path in env_names(annotation).items():
                names[env] = (name, *path)
            continue
        alias = info.validation_alias
        if isinstance(alias, str):
            candidates = [alias]
        elif isinstance(alias, AliasChoices):
            candidates = [c for c in alias.choices if isinstance(c, str)]
        elif issubclass(cls, ServiceSettings):
            candidates = [cls.env_name(name)]  # shared fields keep CONTINUUM_<FIELD>
        else:
            candidates = [prefix + name]
        for candidate in candidates:
            if candidate.upper().startswith(prefix) or issubclass(cls, ServiceSettings):
                names[candidate.upper()] = (name,)
    return names


def field_value(settings: BaseModel, path: tuple[str, ...]) -> Any:
    """The value at a field path, e.g. ``("kafka", "bootstrap_servers")``."""
    value: Any = settings
    for part in path:
        value = getattr(value, part)
    return value
