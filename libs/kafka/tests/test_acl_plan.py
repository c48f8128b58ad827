"""The ACL plan: who may write and read each Continuum topic."""

from __future__ import annotations

from continuum.contracts import topics
from continuum.kafka.acls import PRODUCER, SERVICE_ACCESS, USERS, Acl, acl_plan


def writers(topic: str, plan: list[Acl]) -> set[str]:
    return {
        rule.principal.removeprefix("User:")
        for rule in plan
        if rule.resource_type == "topic" and rule.name == topic and rule.operation == "write"
    }


def test_only_the_trainer_writes_trained_models_and_only_the_registry_promotes() -> None:
    plan = acl_plan(["flights.events"])
    assert writers(topics.MODELS_TRAINED, plan) == {"trainer"}
    assert writers(topics.MODELS_PROMOTED, plan) == {"registry"}
    assert writers(topics.MODELS_REGISTERED, plan) == {"registry"}


def test_each_topic_has_one_writer_and_the_producer_writes_sources_and_feedback() -> None:
    plan = acl_plan(["flights.events", "taxis.events"])
    for topic in topics.ALL_TOPICS:
        if topic != topics.ROLLOUTS:
            assert len(writers(topic, plan)) == 1, topic
    # The one shared topic (the rollout contract puts both events on it): the registry's
    # RolloutChanged and the monitor's RolloutEvaluated. Serving, the one that routes
    # traffic by a RolloutChanged, confirms each with the registry's API before acting.
    assert writers(topics.ROLLOUTS, plan) == {"registry", "monitor"}
    produced = {r.name for r in plan if r.principal == f"User:{PRODUCER}"}
    assert produced == {"flights.events", "taxis.events", topics.FEEDBACK}


def test_ingest_reads_the_source_topics_and_may_dead_letter_them() -> None:
    plan = acl_plan(["flights.events"])
    ingest = {(r.name, r.operation) for r in plan if r.principal == "User:ingest"}
    assert ("flights.events", "read") in ingest
    assert ("flights.events.dlq", "write") in ingest
    assert ("flights.events", "write") not in ingest


def test_every_service_has_a_user_and_its_own_consumer_groups() -> None:
    assert set(USERS) == {*SERVICE_ACCESS, PRODUCER}
    groups = {(r.principal, r.name, r.pattern) for r in acl_plan([]) if r.resource_type == "group"}
    assert groups == {(f"User:{s}", f"continuum-{s}", "prefixed") for s in SERVICE_ACCESS}
