"""The client's side of `wss://`: system trust, or a pinned certificate fingerprint.

As the official client (applyGatewayWebSocketTlsPin): without a pin the certificate must pass
the normal checks (system CAs, host name); with a pin those checks are off and, right after the
handshake and before a single byte of HTTP (so before any credential), the SHA-256 of the
peer's certificate must equal the pin. A mismatch names both fingerprints' first digits, so
the operator sees which certificate answered.
"""

from __future__ import annotations

import ssl

import trio

from openclaw_gateway.core.tls import fingerprint_of, normalize_fingerprint, short

PIN_REQUIRES_WSS = "gateway tls fingerprint requires wss:// gateway url"
PIN_INVALID = "gateway tls fingerprint must be a SHA-256 fingerprint"  # official wording


class TlsFailure(Exception):
    """The TLS layer refused the gateway (handshake, trust or pin); the message says why."""


def client_context(pinned: bool) -> ssl.SSLContext:
    if not pinned:
        return ssl.create_default_context()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False  # the pin is the trust: a self-signed cert has no name
    context.verify_mode = ssl.CERT_NONE
    return context


def _reason(exc: BaseException) -> str:
    cause = exc.__cause__ or exc.__context__
    if isinstance(cause, ssl.SSLCertVerificationError):
        return cause.verify_message or str(cause)
    if isinstance(cause, ssl.SSLError):
        return cause.reason or str(cause)
    return str(cause or exc) or type(exc).__name__


async def secure(
    tcp: trio.SocketStream, hostname: str, fingerprint: str | None
) -> trio.SSLStream[trio.SocketStream]:
    """The handshake over `tcp` (which the caller closes on failure), then the pin check."""
    expected = normalize_fingerprint(fingerprint) if fingerprint else None
    if fingerprint and not expected:
        raise TlsFailure(PIN_INVALID)
    stream = trio.SSLStream(tcp, client_context(expected is not None), server_hostname=hostname)
    try:
        await stream.do_handshake()
    except trio.BrokenResourceError as exc:
        reason = _reason(exc)
        hint = "" if expected else " (a self-signed gateway needs gateway.remote.tlsFingerprint)"
        verify = isinstance(exc.__cause__, ssl.SSLCertVerificationError)
        raise TlsFailure(f"gateway tls: {reason}{hint if verify else ''}") from None
    if expected is None:
        return stream
    der = stream.getpeercert(binary_form=True)
    actual = fingerprint_of(der) if der else ""
    if actual != expected:
        got = short(actual) if actual else "none"
        raise TlsFailure(
            f"gateway tls fingerprint mismatch (expected {short(expected)}, got {got})"
        )
    return stream
