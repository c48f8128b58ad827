"""``python -m continuum.ingest``: settings from the environment, uvicorn on the HTTP port."""

from continuum.ingest.app import create_app
from continuum.ingest.settings import IngestSettings
from continuum.runtime.serve import serve


def main() -> None:
    """Run the ingest service until stopped."""
    serve(IngestSettings, create_app)


if __name__ == "__main__":
    main()
