"""The registry's HTTP API (``/v1``), one module per concern."""
