"""Signed events: what a signature covers, and every way verification refuses."""

from __future__ import annotations

import pytest

from continuum.contracts import (
    SIGNATURE_HEADER,
    EventKeyring,
    ModelArtifacts,
    ModelPromoted,
    StoredObject,
    TrainingRequested,
    UnverifiedEventError,
    encode_event,
    needs_signature,
)
from continuum.contracts.topics import FEEDBACK, MODELS_PROMOTED, MODELS_TRAINED, dlq_topic

KEY = "unit-test-event-key-0123456789"
OTHER = "some-other-deployment-key-987654"


def _signed(keyring: EventKeyring) -> tuple[bytes, dict[str, str]]:
    record = encode_event(TrainingRequested(pipeline="flights"), "tests", keyring=keyring)
    return record.value, record.headers


def test_a_signed_event_verifies_with_its_key() -> None:
    keyring = EventKeyring.of([KEY])
    value, headers = _signed(keyring)
    assert headers[SIGNATURE_HEADER].startswith("hmac-sha256=")
    keyring.verify(value, headers)  # does not raise


def test_without_a_keyring_the_record_is_unsigned_and_refused() -> None:
    record = encode_event(TrainingRequested(pipeline="flights"), "tests")
    assert SIGNATURE_HEADER not in record.headers
    with pytest.raises(UnverifiedEventError, match="unsigned event"):
        EventKeyring.of([KEY]).verify(record.value, record.headers)


def test_a_signature_made_with_another_key_is_refused() -> None:
    value, headers = _signed(EventKeyring.of([OTHER]))
    with pytest.raises(UnverifiedEventError, match="bad signature"):
        EventKeyring.of([KEY]).verify(value, headers)


@pytest.mark.parametrize("header", ["ce_type", "ce_id", "ce_source", "ce_time"])
def test_changing_an_identity_header_breaks_the_signature(header: str) -> None:
    keyring = EventKeyring.of([KEY])
    value, headers = _signed(keyring)
    with pytest.raises(UnverifiedEventError, match="bad signature"):
        keyring.verify(value, headers | {header: headers[header] + "x"})
    without = {name: v for name, v in headers.items() if name != header}
    with pytest.raises(UnverifiedEventError, match=f"missing header {header}"):
        keyring.verify(value, without)


def test_changing_one_payload_byte_breaks_the_signature() -> None:
    keyring = EventKeyring.of([KEY])
    value, headers = _signed(keyring)
    forged = value.replace(b'"manual"', b'"drift"')
    assert forged != value
    with pytest.raises(UnverifiedEventError, match="bad signature"):
        keyring.verify(forged, headers)


def test_an_unknown_scheme_is_refused() -> None:
    keyring = EventKeyring.of([KEY])
    value, headers = _signed(keyring)
    digest = headers[SIGNATURE_HEADER].split("=", 1)[1]
    with pytest.raises(UnverifiedEventError, match="unknown signature scheme"):
        keyring.verify(value, headers | {SIGNATURE_HEADER: "md5=" + digest})


def test_rotation_signs_with_the_new_key_and_still_accepts_the_old() -> None:
    old = EventKeyring.of([KEY])
    rotated = EventKeyring.of([OTHER, KEY])
    rotated.verify(*_signed(old))
    value, headers = _signed(rotated)
    EventKeyring.of([OTHER]).verify(value, headers)
    with pytest.raises(UnverifiedEventError):
        old.verify(value, headers)  # a consumer not yet given the new key refuses it


def test_kafka_headers_are_verified_and_a_doubled_signed_header_is_refused() -> None:
    keyring = EventKeyring.of([KEY])
    value, headers = _signed(keyring)
    pairs = [(name, v.encode()) for name, v in headers.items()]
    keyring.verify_kafka(value, pairs)
    with pytest.raises(UnverifiedEventError, match="ce_source appears twice"):
        keyring.verify_kafka(value, [*pairs, ("ce_source", b"continuum-registry")])
    with pytest.raises(UnverifiedEventError, match="not UTF-8"):
        keyring.verify_kafka(value, [*pairs, ("ce_note", b"\xff")])


def test_short_or_missing_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 16 bytes"):
        EventKeyring.of(["short"])
    with pytest.raises(ValueError, match="at least one key"):
        EventKeyring.of([])


def test_the_keyring_never_shows_its_keys() -> None:
    assert KEY not in repr(EventKeyring.of([KEY, OTHER]))


def test_only_user_input_topics_and_dead_letters_go_unverified() -> None:
    assert needs_signature(MODELS_TRAINED)
    assert needs_signature(MODELS_PROMOTED)
    assert needs_signature("anything-else")
    assert not needs_signature(FEEDBACK)
    assert not needs_signature(dlq_topic(MODELS_PROMOTED))


def test_a_promotion_signed_by_one_deployment_is_refused_by_another() -> None:
    stored = StoredObject(uri="memory://m", sha256="0" * 64, size_bytes=1)
    promoted = ModelPromoted(
        pipeline="flights",
        version=99,
        artifacts=ModelArtifacts(model=stored, reference_sample=stored, model_card=stored),
        reason="manual",
    )
    record = encode_event(promoted, "attacker", keyring=EventKeyring.of([OTHER]))
    with pytest.raises(UnverifiedEventError, match="bad signature"):
        EventKeyring.of([KEY]).verify(record.value, record.headers)
