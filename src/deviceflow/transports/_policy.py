"""Checks every transport applies before any I/O: scheme policy and response size."""

from __future__ import annotations

from deviceflow.core import HttpRequest
from deviceflow.errors import InsecureTransportError

#: Largest response body a transport accepts. Device-flow answers are a few kilobytes; a server
#: streaming more is broken or hostile, and a device may have little memory.
MAX_BODY_BYTES = 1024 * 1024

#: Seconds allowed per network operation when the caller gives no timeout.
DEFAULT_TIMEOUT = 30.0


def user_agent() -> str:
    """``deviceflow/<version>``; looked up late because ``deviceflow`` imports the transports."""
    from deviceflow import __version__

    return "deviceflow/" + __version__


# OpenSSL's names for a record stream that was cut or garbled in transit (a reset landing in the
# middle of a record, a middlebox mangling bytes): the network broke, not the TLS setup.
_BROKEN_STREAM_REASONS = frozenset(
    {
        "UNEXPECTED_MESSAGE",
        "UNEXPECTED_RECORD",
        "BAD_RECORD_MAC",
        "DECRYPTION_FAILED_OR_BAD_RECORD_MAC",
        "RECORD_LAYER_FAILURE",
    }
)


def is_dropped_tls(exc: BaseException) -> bool:
    """Whether ``exc`` is the connection breaking in the middle of TLS.

    An EOF during the handshake or before ``close_notify`` (``SSLEOFError``, ``SSLZeroReturnError``)
    is a dropped connection, as a reset would be, and so is a record stream cut or garbled in
    transit (``UNEXPECTED_MESSAGE``, ``BAD_RECORD_MAC``, ...): both are worth retrying (checklist
    6.1). An untrusted certificate or a protocol mismatch is not, and stays a ``TLSError``.
    """
    import ssl  # loaded by now: the error came from a connection

    if isinstance(exc, ssl.SSLEOFError | ssl.SSLZeroReturnError):
        return True
    return isinstance(exc, ssl.SSLError) and getattr(exc, "reason", None) in _BROKEN_STREAM_REASONS


def is_loopback_host(host: str) -> bool:
    """``True`` for ``localhost``, 127.0.0.0/8 and ``::1``: traffic that stays on this machine."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    import ipaddress  # with the first request, not with the transport

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(request: HttpRequest, *, allow_insecure_http: bool) -> None:
    """Refuse a URL we must not send credentials to, before opening any connection.

    RFC 8628 §3.1 and RFC 6749 §3.2 require TLS at the device authorization and token endpoints.
    Plain ``http`` is accepted for loopback (tests, a local emulator) and otherwise only when the
    caller opted in explicitly.

    Raises:
        InsecureTransportError: the scheme is not ``https``/``http``, or ``http`` is used for a
            host that is not loopback without ``allow_insecure_http``.
    """
    from urllib.parse import urlsplit  # with the first request, not with the transport

    parts = urlsplit(request.url)
    scheme = parts.scheme.lower()
    if scheme == "https":
        return
    if scheme != "http":
        raise InsecureTransportError(
            f"unsupported URL scheme {scheme!r}: deviceflow sends requests over https",
            request=request,
        )
    host = parts.hostname or ""
    if not allow_insecure_http and not is_loopback_host(host):
        raise InsecureTransportError(
            f"refusing plain http to {host!r}: use https, or pass allow_insecure_http=True to the "
            "transport if this network is trusted (tokens would travel in clear text)",
            request=request,
        )
