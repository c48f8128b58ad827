"""``python -m continuum.trainer``: settings from the environment, uvicorn on the HTTP port."""

from __future__ import annotations

import logging
import sys

import uvicorn

from continuum.trainer.app import create_app
from continuum.trainer.settings import TrainerSettings


def main() -> None:
    """Run the trainer until stopped."""
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    settings = TrainerSettings()
    uvicorn.run(
        create_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        access_log=False,
        log_level="info",
    )


if __name__ == "__main__":
    main()
