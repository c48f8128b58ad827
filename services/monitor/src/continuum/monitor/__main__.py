"""``python -m continuum.monitor``: settings from the environment, uvicorn on the HTTP port."""

from continuum.monitor.app import create_app
from continuum.monitor.settings import MonitorSettings
from continuum.runtime.serve import serve


def main() -> None:
    """Run the monitor service until stopped."""
    serve(MonitorSettings, create_app)


if __name__ == "__main__":
    main()
