"""Everything one serving app holds, wired once by ``create_app``."""

from __future__ import annotations

from dataclasses import dataclass

from faststream.kafka import KafkaBroker

from continuum.registry_client import RegistryClient
from continuum.serving.manager import ModelManager
from continuum.serving.metrics import ServingMetrics
from continuum.serving.models import ModelTable
from continuum.serving.prediction_log import PredictionLog
from continuum.serving.predictor import Predictor
from continuum.serving.settings import ServingSettings


@dataclass
class ServingState:
    """The app's parts (one per app, never module globals)."""

    settings: ServingSettings
    metrics: ServingMetrics
    broker: KafkaBroker
    registry: RegistryClient
    table: ModelTable
    manager: ModelManager
    log: PredictionLog
    predictor: Predictor
