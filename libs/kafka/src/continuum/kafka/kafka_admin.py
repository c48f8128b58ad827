"""Kafka's Admin API for what aiokafka's admin client lacks: SCRAM users and ACLs.

:func:`upsert_scram_users` sends AlterUserScramCredentials (KIP-554), which stores a
SCRAM-SHA-512 credential derived here (salt, PBKDF2 iterations, salted password: the
password itself never reaches the broker); :func:`create_acls` sends CreateAcls. Both run
as a super user on an already started :class:`aiokafka.admin.AIOKafkaAdminClient`.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Mapping, Sequence
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.protocol.admin import CreateAclsRequest
from aiokafka.protocol.api import Request, RequestStruct, Response
from aiokafka.protocol.types import (
    CompactArray,
    CompactBytes,
    CompactString,
    Int8,
    Int16,
    Int32,
    Schema,
    TaggedFields,
)

from continuum.kafka.acls import Acl

SCRAM_SHA_512 = 2  # org.apache.kafka.common.security.scram.internals.ScramMechanism
SCRAM_ITERATIONS = 8192  # Kafka's minimum for SCRAM-SHA-512 is 4096

# Kafka's wire codes (org.apache.kafka.common.acl / resource).
_RESOURCE = {"topic": 2, "group": 3, "cluster": 4}
_PATTERN = {"literal": 3, "prefixed": 4}
_OPERATION = {"read": 3, "write": 4, "create": 5, "describe": 8}
_ALLOW = 3


class KafkaAdminError(RuntimeError):
    """The broker refused a user or an ACL."""


# aiokafka ships no type information: its protocol classes are Any to mypy.
class AlterUserScramCredentialsResponse_v0(Response):  # type: ignore[misc]  # noqa: N801
    """Per user: an error code (0 when stored) and message."""

    API_KEY = 51
    API_VERSION = 0
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        (
            "results",
            CompactArray(
                ("user", CompactString("utf-8")),
                ("error_code", Int16),
                ("error_message", CompactString("utf-8")),
                ("tags", TaggedFields),
            ),
        ),
        ("tags", TaggedFields),
    )


class AlterUserScramCredentialsRequest_v0(RequestStruct):  # type: ignore[misc]  # noqa: N801
    """Deletions and upsertions of SCRAM credentials (a flexible version)."""

    FLEXIBLE_VERSION = True
    API_KEY = 51
    API_VERSION = 0
    RESPONSE_TYPE = AlterUserScramCredentialsResponse_v0
    SCHEMA = Schema(
        (
            "deletions",
            CompactArray(
                ("name", CompactString("utf-8")),
                ("mechanism", Int8),
                ("tags", TaggedFields),
            ),
        ),
        (
            "upsertions",
            CompactArray(
                ("name", CompactString("utf-8")),
                ("mechanism", Int8),
                ("iterations", Int32),
                ("salt", CompactBytes),
                ("salted_password", CompactBytes),
                ("tags", TaggedFields),
            ),
        ),
        ("tags", TaggedFields),
    )


class AlterUserScramCredentialsRequest(Request[AlterUserScramCredentialsRequest_v0]):  # type: ignore[misc]
    """Upsert SCRAM-SHA-512 credentials: ``(name, iterations, salt, salted_password)``."""

    API_KEY = 51

    def __init__(self, upsertions: Sequence[tuple[str, int, bytes, bytes]]) -> None:
        self._upsertions = list(upsertions)

    def build(
        self, request_struct_class: type[AlterUserScramCredentialsRequest_v0]
    ) -> AlterUserScramCredentialsRequest_v0:
        no_tags: dict[int, bytes] = {}
        upserts = [
            (name, SCRAM_SHA_512, iterations, salt, salted, no_tags)
            for name, iterations, salt, salted in self._upsertions
        ]
        return request_struct_class([], upserts, no_tags)


def salted_password(password: str, salt: bytes, iterations: int) -> bytes:
    """SCRAM's ``Hi(password, salt, i)`` for SHA-512 (RFC 5802: PBKDF2 with HMAC)."""
    return hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)


async def upsert_scram_users(
    admin: AIOKafkaAdminClient,
    users: Mapping[str, str],
    *,
    iterations: int = SCRAM_ITERATIONS,
) -> None:
    """Create each user with its password (SCRAM-SHA-512), or set the password anew."""
    upserts: list[tuple[str, int, bytes, bytes]] = []
    for name, password in users.items():
        salt = secrets.token_bytes(32)
        upserts.append((name, iterations, salt, salted_password(password, salt, iterations)))
    response: Any = await admin._send_to_controller(AlterUserScramCredentialsRequest(upserts))
    for user, code, message, _ in response.results:
        if code:
            raise KafkaAdminError(f"Kafka refused the SCRAM user {user}: {code} {message}")


async def create_acls(admin: AIOKafkaAdminClient, acls: Sequence[Acl]) -> None:
    """Create every ACL (an existing one is kept, so this may run again)."""
    requests = [
        CreateAclsRequest(
            _RESOURCE[rule.resource_type],
            rule.name,
            _PATTERN[rule.pattern],
            rule.principal,
            "*",
            _OPERATION[rule.operation],
            _ALLOW,
        )
        for rule in acls
    ]
    responses: list[Any] = await asyncio.gather(*(admin._send_request(r) for r in requests))
    for rule, response in zip(acls, responses, strict=True):
        for code, message in response.creation_responses:
            if code:
                raise KafkaAdminError(f"Kafka refused the ACL {rule}: {code} {message}")
