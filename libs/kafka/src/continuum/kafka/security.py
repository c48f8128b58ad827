"""Turns :class:`KafkaSettings` into FastStream's security object (TLS and SASL)."""

from __future__ import annotations

import ssl

from faststream.security import (
    BaseSecurity,
    SASLPlaintext,
    SASLScram256,
    SASLScram512,
)

from continuum.kafka.settings import KafkaSettings


def _ssl_context(settings: KafkaSettings) -> ssl.SSLContext:
    context = ssl.create_default_context(
        cafile=str(settings.ssl_cafile) if settings.ssl_cafile else None
    )
    if settings.ssl_certfile:
        context.load_cert_chain(
            str(settings.ssl_certfile),
            str(settings.ssl_keyfile) if settings.ssl_keyfile else None,
        )
    return context


def security_from(settings: KafkaSettings) -> BaseSecurity | None:
    """FastStream security for these settings, or ``None`` for plain text."""
    context = _ssl_context(settings) if settings.uses_tls else None
    if not settings.security_protocol.startswith("SASL"):
        return BaseSecurity(ssl_context=context) if context else None
    assert settings.sasl_username is not None  # checked by KafkaSettings
    assert settings.sasl_password is not None
    username = settings.sasl_username
    password = settings.sasl_password.get_secret_value()
    use_ssl = settings.uses_tls
    if settings.sasl_mechanism == "SCRAM-SHA-256":
        return SASLScram256(username, password, ssl_context=context, use_ssl=use_ssl)
    if settings.sasl_mechanism == "SCRAM-SHA-512":
        return SASLScram512(username, password, ssl_context=context, use_ssl=use_ssl)
    return SASLPlaintext(username, password, ssl_context=context, use_ssl=use_ssl)
