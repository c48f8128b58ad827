"""Who may do what on Kafka: one SCRAM user per service and the ACLs that bound it.

With SASL/SCRAM and an authorizer (``allow.everyone.if.no.acl.found=false``), a
principal may only do what an ACL allows. :func:`acl_plan` derives each service's ACLs
from the topics in :mod:`continuum.contracts.topics` that it publishes to and subscribes
to (see each service's ``bootstrap``), so that, for example, only the trainer may write
``continuum.models.trained`` and only the registry may write ``continuum.models.promoted``.

- A service may write what it publishes and read what it subscribes to (and create both:
  topics are created on first use, by whichever side comes first), write the dead-letter
  topic of each topic it reads, and use consumer groups named ``continuum-<service>...``.
- The ``producer`` user is the outside world's: it may write the pipelines' source topics
  and ``continuum.feedback``, and nothing else.
- The broker's own ``admin`` user is a super user (``super.users``); no service uses it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal, NamedTuple

from continuum.contracts import topics
from continuum.contracts.topics import dlq_topic

ResourceType = Literal["topic", "group"]
PatternType = Literal["literal", "prefixed"]
Operation = Literal["read", "write", "create", "describe"]

PRODUCER = "producer"
"""The user of whatever writes source records and feedback (sources, the demo, clients)."""


class Acl(NamedTuple):
    """One ALLOW rule, from any host: ``principal`` may ``operation`` on the resource."""

    resource_type: ResourceType
    name: str
    pattern: PatternType
    principal: str
    operation: Operation


@dataclass(frozen=True)
class ServiceAccess:
    """The topics one service publishes to and subscribes to."""

    publishes: tuple[str, ...]
    subscribes: tuple[str, ...]


SOURCE_TOPICS_OF_INGEST = "*sources*"
"""Stands for the pipelines' source topics in :data:`SERVICE_ACCESS` (named in specs)."""

SERVICE_ACCESS: Mapping[str, ServiceAccess] = {
    "ingest": ServiceAccess(
        publishes=(topics.DATA_BATCHES, topics.RECORDS_REJECTED),
        subscribes=(topics.PIPELINES_CHANGED, SOURCE_TOPICS_OF_INGEST),
    ),
    "trainer": ServiceAccess(
        publishes=(topics.MODELS_TRAINED,),
        subscribes=(
            topics.DATA_BATCHES,
            topics.DRIFT_DETECTED,
            topics.TRAINING_REQUESTS,
            topics.QUALITY_MEASURED,
            topics.MODELS_REGISTERED,
            topics.MODELS_PROMOTED,
            topics.PIPELINES_CHANGED,
        ),
    ),
    "registry": ServiceAccess(
        publishes=(
            topics.MODELS_REGISTERED,
            topics.MODELS_PROMOTED,
            topics.PIPELINES_CHANGED,
            topics.TRAINING_REQUESTS,
            topics.ROLLOUTS,
        ),
        subscribes=(topics.MODELS_TRAINED, topics.ROLLOUTS),
    ),
    "serving": ServiceAccess(
        publishes=(topics.PREDICTIONS,),
        subscribes=(topics.MODELS_PROMOTED, topics.PIPELINES_CHANGED, topics.ROLLOUTS),
    ),
    "monitor": ServiceAccess(
        publishes=(topics.DRIFT_DETECTED, topics.QUALITY_MEASURED, topics.ROLLOUTS),
        subscribes=(
            topics.PREDICTIONS,
            topics.FEEDBACK,
            topics.MODELS_PROMOTED,
            topics.PIPELINES_CHANGED,
            topics.ROLLOUTS,
        ),
    ),
}
"""Each service's topics, as its bootstrap wires them: ``tests/test_service_access.py``
runs each service in memory and checks that what it reads and publishes is exactly this."""

USERS: tuple[str, ...] = (*SERVICE_ACCESS, PRODUCER)
"""Every SCRAM user a deployment needs, besides the broker's admin."""


def _user(name: str) -> str:
    return f"User:{name}"


def _topic(name: str, principal: str, *operations: Operation) -> list[Acl]:
    return [Acl("topic", name, "literal", principal, op) for op in operations]


def service_acls(service: str, source_topics: Iterable[str]) -> list[Acl]:
    """The ACLs of one service's user."""
    access = SERVICE_ACCESS[service]
    principal = _user(service)
    sources = list(source_topics)
    reads = [
        t
        for name in access.subscribes
        for t in (sources if name == SOURCE_TOPICS_OF_INGEST else [name])
    ]
    rules: list[Acl] = []
    for topic in access.publishes:
        rules += _topic(topic, principal, "write", "create")
    for topic in reads:
        # Create too: a consumer's metadata request auto-creates a topic nobody wrote yet
        # (the registry starts before any models.trained), and without CREATE the broker
        # answers it with TopicAuthorizationFailed.
        rules += _topic(topic, principal, "read", "create")
        # A message it cannot handle is dead-lettered next to its topic.
        rules += _topic(dlq_topic(topic), principal, "write", "create")
    rules.append(Acl("group", f"continuum-{service}", "prefixed", principal, "read"))
    return rules


def acl_plan(source_topics: Iterable[str]) -> list[Acl]:
    """Every ACL of a deployment whose pipelines read ``source_topics``."""
    sources = sorted(set(source_topics))
    rules = [rule for service in SERVICE_ACCESS for rule in service_acls(service, sources)]
    for topic in [*sources, topics.FEEDBACK]:
        rules += _topic(topic, _user(PRODUCER), "write", "create")
    return rules
