"""Asks a service's ``/health`` who it is: a 200 from some other program is not healthy.

Every Continuum service answers ``/health`` with JSON naming itself (``"service":
"registry"`` ...) and ``"status": "ok"`` once ready, also while starting (503 with its
name). Anything else on the port is a foreign server, and ``continuum up`` says so instead
of taking it for the service.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

import httpx


class HealthState(enum.Enum):
    """What a ``/health`` request found."""

    HEALTHY = "healthy"
    STARTING = "starting"
    FOREIGN = "foreign"
    SILENT = "silent"


@dataclass(frozen=True)
class HealthProbe:
    """The state and a short human description of the answer."""

    state: HealthState
    detail: str


def _describe(response: httpx.Response) -> str:
    text = " ".join(response.text.split())
    return f"HTTP {response.status_code} {text[:80]!r}"


def probe_health(base_url: str, service: str, timeout: float = 2.0) -> HealthProbe:
    """``GET base_url/health`` once and judge the answer against ``service``'s identity."""
    try:
        response = httpx.get(f"{base_url}/health", timeout=timeout)
    except httpx.HTTPError as exc:
        return HealthProbe(HealthState.SILENT, f"no answer ({type(exc).__name__})")
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or body.get("service") != service:
        return HealthProbe(HealthState.FOREIGN, _describe(response))
    if response.status_code == 200 and body.get("status") == "ok":
        return HealthProbe(HealthState.HEALTHY, "ok")
    return HealthProbe(HealthState.STARTING, f"status {body.get('status')!r}")
