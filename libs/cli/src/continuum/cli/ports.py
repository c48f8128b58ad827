"""Local ports: free ones for demos and tests, and the ports ``continuum up`` uses."""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_PORTS: dict[str, int] = {
    "registry": 8100,
    "serving": 8101,
    "ingest": 8102,
    "trainer": 8103,
    "monitor": 8104,
}
"""Each service's port when none is chosen; ``--base-port N`` keeps this order from N."""


class PortError(ValueError):
    """A chosen port is busy, taken twice or out of range; the message says which."""


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports free on 127.0.0.1 right now."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could bind ``host:port`` now (as the services do, without reuse)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


@dataclass(frozen=True)
class PortPlan:
    """The port of every service, and which of them were picked because they were free."""

    ports: dict[str, int]
    picked: tuple[str, ...]


def plan_ports(base_port: int | None, chosen: Mapping[str, int | None]) -> PortPlan:
    """Each service's port: ``chosen`` (0 = any free port), else ``base_port`` + its offset
    in :data:`DEFAULT_PORTS` (``base_port=0``: free ports), else the default.

    Raises :class:`PortError` naming every busy, duplicate or out-of-range port, so one
    run tells the whole story instead of failing a service at a time.
    """
    if base_port is not None and not (base_port == 0 or 1 <= base_port <= 65535 - 4):
        raise PortError(f"--base-port must be 0 (free ports) or 1-65531, not {base_port}")
    wanted: dict[str, int] = {}
    for offset, (name, default) in enumerate(DEFAULT_PORTS.items()):
        port = chosen.get(name)
        if port is None:
            port = default if base_port is None else (base_port + offset if base_port else 0)
        if not 0 <= port <= 65535:
            raise PortError(f"--{name}-port must be 0-65535, not {port}")
        wanted[name] = port
    picked = tuple(name for name, port in wanted.items() if port == 0)
    fixed = {name: port for name, port in wanted.items() if port}
    problems = []
    seen: dict[int, str] = {}
    for name, port in fixed.items():
        if port in seen:
            problems.append(f"port {port} is chosen for both {seen[port]} and {name}")
            continue
        seen[port] = name
        if not port_is_free(port):
            problems.append(f"port {port} ({name}) is in use by another program")
    if problems:
        raise PortError(
            "; ".join(problems) + ". Choose others with --<service>-port or --base-port N, "
            "or pass --base-port 0 to use free ports."
        )
    # Picked last, so a free port is never one a fixed service already has.
    free = iter(p for p in free_ports(len(picked) + len(fixed)) if p not in fixed.values())
    return PortPlan({name: port or next(free) for name, port in wanted.items()}, picked)
