"""``python -m continuum.kafka.provision SPEC...``: a deployment's Kafka users and ACLs.

docker-compose.yml's one-shot ``kafka-setup`` job runs this before any service starts.
It connects as the broker's super user (``CONTINUUM_KAFKA_*`` as in
:class:`~continuum.kafka.KafkaSettings`: bootstrap servers, ``SASL_PLAINTEXT``, the admin's
mechanism, user name and password), then

1. creates (or updates) one SCRAM-SHA-512 user per name in
   :data:`~continuum.kafka.acls.USERS`, each with the password in
   ``CONTINUUM_KAFKA_PASSWORD_<USER>`` (``CONTINUUM_KAFKA_PASSWORD_TRAINER``, ...), and
2. creates the ACLs of :func:`~continuum.kafka.acls.acl_plan` for the source topics of the
   pipeline specs given as arguments (files, or folders of ``*.yaml``/``*.yml``).

Running it again is safe: passwords are set anew and existing ACLs are kept. It exits 0
once everything is applied, 1 with a one-line reason otherwise.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient
from faststream.kafka.security import parse_security

from continuum.contracts import parse_spec_yaml
from continuum.kafka.acls import USERS, Acl, acl_plan
from continuum.kafka.kafka_admin import create_acls, upsert_scram_users
from continuum.kafka.security import security_from
from continuum.kafka.settings import KafkaSettings

PASSWORD_VARIABLE = "CONTINUUM_KAFKA_PASSWORD_{}"  # noqa: S105 - a variable name
MIN_PASSWORD_LENGTH = 12


class ProvisionError(RuntimeError):
    """Something the job cannot apply (missing password, unreadable spec)."""


def password_variable(user: str) -> str:
    """The environment variable holding ``user``'s password."""
    return PASSWORD_VARIABLE.format(user.upper())


def user_passwords(environ: Mapping[str, str]) -> dict[str, str]:
    """Every user's password from ``environ``; all must be set and long enough."""
    missing = [
        password_variable(user)
        for user in USERS
        if len(environ.get(password_variable(user), "")) < MIN_PASSWORD_LENGTH
    ]
    if missing:
        raise ProvisionError(f"set {', '.join(missing)} ({MIN_PASSWORD_LENGTH} characters or more)")
    return {user: environ[password_variable(user)] for user in USERS}


def spec_files(paths: Iterable[Path]) -> list[Path]:
    """The spec files named, folders expanded to their YAML files."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted([*path.glob("*.yaml"), *path.glob("*.yml")])
        elif path.is_file():
            files.append(path)
        else:
            raise ProvisionError(f"{path}: no such file or folder")
    return files


def source_topics(paths: Iterable[Path]) -> list[str]:
    """The source topics of the pipeline specs at ``paths``."""
    topics = set()
    for path in spec_files(paths):
        try:
            topics.add(parse_spec_yaml(path.read_text()).source_topic)
        except Exception as exc:  # a spec error names the file, not a traceback
            raise ProvisionError(f"{path}: {exc}") from exc
    return sorted(topics)


async def apply(
    settings: KafkaSettings,
    users: Mapping[str, str],
    acls: Sequence[Acl],
    *,
    attempts: int = 10,
    backoff_seconds: float = 3.0,
) -> None:
    """Upsert the users and create the ACLs as the super user ``settings`` name.

    A broker that is up but not yet serving its metadata is retried, ``attempts`` times.
    """
    for attempt in range(1, attempts + 1):
        admin = AIOKafkaAdminClient(
            bootstrap_servers=settings.bootstrap_servers,
            client_id=settings.client_id or "continuum-kafka-setup",
            **parse_security(security_from(settings)),
        )
        try:
            await admin.start()
            await upsert_scram_users(admin, users)
            await create_acls(admin, acls)
            return
        except Exception as exc:
            if attempt == attempts:
                raise
            print(f"kafka-setup: attempt {attempt} failed ({exc!r}), retrying", flush=True)
        finally:
            await admin.close()
        await asyncio.sleep(backoff_seconds)


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Apply the users and ACLs; the exit status of the job."""
    args = list(sys.argv[1:] if argv is None else argv)
    env = os.environ if environ is None else environ
    try:
        if not args:
            raise ProvisionError("name the pipeline specs (files or folders) to read topics from")
        users = user_passwords(env)
        sources = source_topics(Path(arg) for arg in args)
        plan = acl_plan(sources)
        asyncio.run(apply(KafkaSettings(), users, plan))
    except Exception as exc:
        print(f"kafka-setup failed: {exc}", file=sys.stderr, flush=True)
        return 1
    print(
        f"kafka-setup: {len(users)} users ({', '.join(users)}), {len(plan)} ACLs "
        f"for source topics {', '.join(sources) or '(none)'}",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
