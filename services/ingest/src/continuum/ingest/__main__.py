"""``python -m continuum.ingest``: run the ingest service with uvicorn."""

from __future__ import annotations

import logging

import uvicorn

from continuum.ingest.app import create_app
from continuum.ingest.settings import IngestSettings


def main() -> None:
    """Read settings from the environment and serve until interrupted."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    settings = IngestSettings()
    uvicorn.run(
        create_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        access_log=False,
        log_level="info",
    )


if __name__ == "__main__":
    main()
