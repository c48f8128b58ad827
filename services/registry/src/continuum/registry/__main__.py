"""``python -m continuum.registry``: settings from the environment, then uvicorn."""

from __future__ import annotations

import logging

import uvicorn

from continuum.registry.app import create_app
from continuum.registry.settings import RegistrySettings


def main() -> None:
    """Run the registry on ``CONTINUUM_HTTP_HOST:CONTINUUM_HTTP_PORT``."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = RegistrySettings()
    uvicorn.run(
        create_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        access_log=False,
        log_level="info",
    )


if __name__ == "__main__":
    main()
