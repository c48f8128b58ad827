"""A secured local broker: SASL/SCRAM-SHA-512 for clients, StandardAuthorizer with ACLs.

What docker-compose.yml runs, on the jars alone (no ``kafka-configs``/``kafka-acls``
tools there): the SCRAM users are added when the storage is formatted (``kafka-storage
format --add-scram``, so the first start of a data dir fixes them), and the ACLs are
created through the Admin API (CreateAcls) as the super user once the broker serves.

Listeners: clients and the broker itself use ``SASL_PLAINTEXT`` with SCRAM-SHA-512 (the
admin may also log in there with SASL/PLAIN, as compose's ``kafka-setup`` job does); the
controller listener uses SASL/PLAIN with the admin's static credentials (SCRAM cannot
authenticate there: its credentials live in the metadata the controller serves), so no
listener lets an anonymous client in.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.protocol.admin import CreateAclsRequest

from continuum.localkafka.errors import LocalKafkaError

MECHANISM = "SCRAM-SHA-512"
LISTENER = "SASL_PLAINTEXT"
_SAFE = re.compile(r"^[A-Za-z0-9_.\-]+$")  # nothing that could break a JAAS line

# Kafka's wire codes (org.apache.kafka.common.acl / resource).
_RESOURCE = {"topic": 2, "group": 3, "cluster": 4}
_PATTERN = {"literal": 3, "prefixed": 4}
_OPERATION = {"read": 3, "write": 4, "create": 5, "describe": 8}
_ALLOW = 3


class AclRule(Protocol):
    """One ALLOW rule (``continuum.kafka.acls.Acl`` is one)."""

    @property
    def resource_type(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def pattern(self) -> str: ...
    @property
    def principal(self) -> str: ...
    @property
    def operation(self) -> str: ...


@dataclass(frozen=True)
class ScramSecurity:
    """Users (name -> password, SCRAM-SHA-512), the super user and the ACLs to create."""

    admin_password: str
    users: Mapping[str, str] = field(default_factory=dict)
    acls: Sequence[AclRule] = ()
    admin_user: str = "admin"

    def __post_init__(self) -> None:
        names = [self.admin_user, *self.users]
        secrets = [self.admin_password, *self.users.values()]
        if any(not _SAFE.match(text) for text in (*names, *secrets)):
            raise LocalKafkaError(
                "Kafka user names and passwords may only use letters, digits, '_', '-' and '.'"
            )

    def listener_properties(self, host: str, port: int, controller_port: int) -> list[str]:
        """The listener, SASL and authorizer lines of ``server.properties``."""
        admin, secret = self.admin_user, self.admin_password
        scram = "org.apache.kafka.common.security.scram.ScramLoginModule"
        plain = "org.apache.kafka.common.security.plain.PlainLoginModule"
        return [
            f"listeners={LISTENER}://{host}:{port},CONTROLLER://{host}:{controller_port}",
            f"advertised.listeners={LISTENER}://{host}:{port},CONTROLLER://{host}:{controller_port}",
            "controller.listener.names=CONTROLLER",
            f"inter.broker.listener.name={LISTENER}",
            f"listener.security.protocol.map=CONTROLLER:{LISTENER},{LISTENER}:{LISTENER}",
            f"sasl.enabled.mechanisms={MECHANISM}",
            f"listener.name.{LISTENER.lower()}.sasl.enabled.mechanisms={MECHANISM},PLAIN",
            f"sasl.mechanism.inter.broker.protocol={MECHANISM}",
            f"listener.name.{LISTENER.lower()}.{MECHANISM.lower()}.sasl.jaas.config={scram} "
            f'required username="{admin}" password="{secret}";',
            # PLAIN knows the admin alone: how compose's setup job logs in to create the
            # SCRAM users (no SCRAM credential exists before it runs).
            f"listener.name.{LISTENER.lower()}.plain.sasl.jaas.config={plain} required "
            f'username="{admin}" password="{secret}" user_{admin}="{secret}";',
            "sasl.mechanism.controller.protocol=PLAIN",
            "listener.name.controller.sasl.enabled.mechanisms=PLAIN",
            f"listener.name.controller.plain.sasl.jaas.config={plain} required "
            f'username="{admin}" password="{secret}" user_{admin}="{secret}";',
            "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            f"super.users=User:{admin}",
            "allow.everyone.if.no.acl.found=false",
        ]

    def format_arguments(self) -> list[str]:
        """``kafka-storage format`` arguments adding every SCRAM user, the admin first."""
        users = {self.admin_user: self.admin_password, **self.users}
        return [
            arg
            for name, secret in users.items()
            for arg in ("--add-scram", f"{MECHANISM}=[name={name},password={secret}]")
        ]

    def client_options(self, user: str | None = None) -> dict[str, Any]:
        """aiokafka options to connect as ``user`` (the admin by default)."""
        user = user or self.admin_user
        secret = self.admin_password if user == self.admin_user else self.users[user]
        return {
            "security_protocol": LISTENER,
            "sasl_mechanism": MECHANISM,
            "sasl_plain_username": user,
            "sasl_plain_password": secret,
        }


async def create_acls(bootstrap_servers: str, security: ScramSecurity) -> None:
    """Create every ACL of ``security`` as its super user (an existing one is kept)."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers,
        client_id="continuum-localkafka-acls",
        **security.client_options(),
    )
    await admin.start()
    try:
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
            for rule in security.acls
        ]
        responses = await asyncio.gather(*(admin._send_request(r) for r in requests))
    finally:
        with contextlib.suppress(Exception):
            await admin.close()
    for rule, response in zip(security.acls, responses, strict=True):
        for error_code, message in response.creation_responses:
            if error_code:
                raise LocalKafkaError(f"Kafka refused the ACL {rule}: {error_code} {message}")
