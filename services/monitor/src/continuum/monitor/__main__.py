"""``python -m continuum.monitor``: settings from the environment, uvicorn on the HTTP port."""

from __future__ import annotations

import logging

import uvicorn

from continuum.monitor.app import create_app
from continuum.monitor.settings import MonitorSettings


def main() -> None:
    """Run the monitor until interrupted."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = MonitorSettings()
    uvicorn.run(
        create_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        access_log=False,
        log_config=None,
    )


if __name__ == "__main__":
    main()
