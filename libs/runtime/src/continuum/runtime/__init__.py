"""What every Continuum service runs on: settings base, ``serve``, ``/health``, retries,
the request body cap, the limit on repeated log lines, the collector's settings."""

from continuum.runtime.body_limit import BodySizeLimit, describe_size
from continuum.runtime.gc_tuning import tune_gc_for_throughput
from continuum.runtime.health import (
    HealthCheck,
    HealthEndpoint,
    broker_connected,
    observability_routes,
    with_broker_check,
)
from continuum.runtime.log_limit import RepeatLimit, limit_repeats
from continuum.runtime.retry import (
    TRANSIENT_ERRORS,
    Backoff,
    TransientError,
    any_error,
    is_transient,
    retrying,
)
from continuum.runtime.settings import RegistryCallerSettings, ServiceSettings

__all__ = [
    "TRANSIENT_ERRORS",
    "Backoff",
    "BodySizeLimit",
    "HealthCheck",
    "HealthEndpoint",
    "RegistryCallerSettings",
    "RepeatLimit",
    "ServiceSettings",
    "TransientError",
    "any_error",
    "broker_connected",
    "describe_size",
    "is_transient",
    "limit_repeats",
    "observability_routes",
    "retrying",
    "tune_gc_for_throughput",
    "with_broker_check",
]
