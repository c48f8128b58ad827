"""``python -m continuum.serving``: settings from the environment, uvicorn on the HTTP port."""

from continuum.runtime.serve import serve
from continuum.serving.app import create_app
from continuum.serving.settings import ServingSettings


def main() -> None:
    """Run the serving service until stopped."""
    serve(ServingSettings, create_app)


if __name__ == "__main__":
    main()
