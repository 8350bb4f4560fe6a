"""HTTPS for the web port and the webhook ingress, when Settings name a certificate and its key."""

from __future__ import annotations

import ssl

from service.config import ConfigError, Settings

HSTS = "max-age=31536000"  # one year: browsers that saw it speak only HTTPS to this host


def tls_on(settings: Settings) -> bool:
    return settings.tls_cert is not None and settings.tls_key is not None


def server_context(settings: Settings) -> ssl.SSLContext | None:
    """The ingress's TLS context (None without TLS); loading it also proves, at start, that the
    certificate and the key are PEM and belong together."""
    if settings.tls_cert is None or settings.tls_key is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(settings.tls_cert, settings.tls_key)
    except ssl.SSLError as exc:
        raise ConfigError(
            f"THREADCOUNT_TLS_CERT ({settings.tls_cert}) and THREADCOUNT_TLS_KEY ({settings.tls_key}) "
            f"are not a PEM certificate and its private key: {exc.reason or exc}") from None
    return context


def scheme(settings: Settings) -> str:
    return "https" if tls_on(settings) else "http"
