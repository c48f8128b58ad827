"""``python -m continuum.registry``: settings from the environment, uvicorn on the HTTP port."""

from continuum.registry.app import create_app
from continuum.registry.settings import RegistrySettings
from continuum.runtime.serve import serve


def main() -> None:
    """Run the registry service until stopped."""
    serve(RegistrySettings, create_app)


if __name__ == "__main__":
    main()
