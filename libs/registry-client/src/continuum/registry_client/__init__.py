"""The registry's HTTP API contract (request and response bodies) and an async client."""

from continuum.registry_client.api_models import (
    AbortRolloutRequest,
    ApplySpecRequest,
    AuditEntry,
    ModelVersionRecord,
    PipelineSpecRecord,
    PipelineStatus,
    PipelineSummary,
    PromoteRequest,
    RollbackRequest,
    RolloutRecord,
    StartRolloutRequest,
    TrainingRequestAccepted,
    TrainingRequestBody,
    TrainingRunRecord,
)
from continuum.registry_client.client import (
    RegistryClient,
    RegistryError,
    RegistryUnavailableError,
)

__all__ = [
    "AbortRolloutRequest",
    "ApplySpecRequest",
    "AuditEntry",
    "ModelVersionRecord",
    "PipelineSpecRecord",
    "PipelineStatus",
    "PipelineSummary",
    "PromoteRequest",
    "RegistryClient",
    "RegistryError",
    "RegistryUnavailableError",
    "RollbackRequest",
    "RolloutRecord",
    "StartRolloutRequest",
    "TrainingRequestAccepted",
    "TrainingRequestBody",
    "TrainingRunRecord",
]
