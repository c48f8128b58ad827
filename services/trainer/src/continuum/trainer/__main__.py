"""``python -m continuum.trainer``: settings from the environment, uvicorn on the HTTP port."""

from continuum.runtime.serve import serve
from continuum.trainer.app import create_app
from continuum.trainer.settings import TrainerSettings


def main() -> None:
    """Run the trainer service until stopped."""
    serve(TrainerSettings, create_app)


if __name__ == "__main__":
    main()
