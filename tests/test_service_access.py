"""SERVICE_ACCESS (what the Kafka ACLs are derived from) agrees with the services' wiring.

Each service is built with in-memory dependencies as its unit tests build it and run
through every path that publishes (``service_wiring_runs``): the topics its subscribers
read and the topics it was seen to publish to must be exactly the ones
:data:`continuum.kafka.acls.SERVICE_ACCESS` names, and the ACLs of its user must allow
each of them, dead letters included.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from wiring_kit import ROOT, SERVICES, Wiring, import_service_testkits

import_service_testkits()

import service_wiring_runs as runs  # noqa: E402

from continuum.contracts.topics import TOPIC_BY_EVENT, dlq_topic  # noqa: E402
from continuum.kafka.acls import SERVICE_ACCESS, SOURCE_TOPICS_OF_INGEST, acl_plan  # noqa: E402

RUNS: dict[str, Callable[[Path], Awaitable[Wiring]]] = {
    "ingest": runs.ingest_run,
    "trainer": runs.trainer_run,
    "registry": runs.registry_run,
    "serving": runs.serving_run,
    "monitor": runs.monitor_run,
}


def test_service_access_names_exactly_the_services() -> None:
    assert set(SERVICE_ACCESS) == set(SERVICES) == set(RUNS)


@pytest.mark.parametrize("service", SERVICES)
async def test_service_access_matches_what_the_service_reads_and_writes(
    service: str, tmp_path: Path
) -> None:
    wiring = await RUNS[service](tmp_path)
    access = SERVICE_ACCESS[service]
    expected_reads = {
        topic
        for name in access.subscribes
        for topic in (wiring.sources if name == SOURCE_TOPICS_OF_INGEST else {name})
    }
    assert wiring.subscribes == expected_reads
    assert wiring.publishes == set(access.publishes)
    # Every subscriber dead-letters what it cannot handle next to its topic.
    assert wiring.probed and wiring.dead_letters == {dlq_topic(t) for t in wiring.probed}

    principal = f"User:{service}"
    allowed = {
        (rule.operation, rule.name)
        for rule in acl_plan(wiring.sources)
        if rule.principal == principal and rule.resource_type == "topic"
    }
    assert {("read", t) for t in wiring.subscribes} <= allowed
    assert {("write", t) for t in wiring.published} <= allowed


def _events_made_by(service: str) -> set[str]:
    """The topics of the event types the service's own code constructs."""
    topic_of = {kind.__name__: topic for kind, topic in TOPIC_BY_EVENT.items()}
    made = set()
    for path in (ROOT / "services" / service / "src").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in topic_of
            ):
                made.add(topic_of[node.func.id])
    return made


@pytest.mark.parametrize("service", SERVICES)
def test_every_event_a_service_constructs_is_on_a_topic_it_may_write(service: str) -> None:
    # The runs above only see the paths they exercise; a new event type in the code
    # (and so, most likely, a new publication) shows up here even without a run for it.
    assert _events_made_by(service) <= set(SERVICE_ACCESS[service].publishes)
