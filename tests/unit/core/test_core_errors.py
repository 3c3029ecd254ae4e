"""The exception tree: registry, hints, and the tree drawn in deviceflow.errors."""

from __future__ import annotations

import re

import pytest

import deviceflow.errors as errors
from deviceflow.core import (
    OAUTH_ERRORS,
    AccessDeniedError,
    DeviceFlowError,
    ExpiredTokenError,
    InvalidClientError,
    OAuthError,
    RemoteProtocolError,
    oauth_error_class,
)


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        ("access_denied", AccessDeniedError),
        ("authorization_declined", AccessDeniedError),
        ("expired_token", ExpiredTokenError),
        ("code_expired", ExpiredTokenError),
        ("invalid_client", InvalidClientError),
        ("never_heard_of_it", OAuthError),
    ],
)
def test_oauth_error_class_codes_and_aliases_map_to_classes(code: str, cls: type) -> None:
    assert oauth_error_class(code) is cls


def test_oauth_errors_registry_every_class_knows_its_code() -> None:
    for code, cls in OAUTH_ERRORS.items():
        assert code == cls.code or code in cls.aliases
        assert cls.__doc__ and cls.__name__.endswith("Error")


def test_oauth_error_defaults_and_hint_from_aadsts() -> None:
    exc = InvalidClientError(error_codes=(7000218,), status=401)
    assert exc.error == "invalid_client"
    assert "Allow public client flows" in str(exc) and exc.hint is not None
    assert repr(exc) == "InvalidClientError(error='invalid_client')"
    assert str(OAuthError()) == "unknown_error"
    assert OAuthError("x", hint="do y").hint == "do y"


def test_remote_protocol_error_message_has_status_and_snippet() -> None:
    exc = RemoteProtocolError("bad", status=502, snippet="<html>")
    assert str(exc) == "bad (HTTP 502): '<html>'"
    assert (exc.status, exc.snippet) == (502, "<html>")


def test_errors_module_docstring_draws_every_exported_exception() -> None:
    doc = errors.__doc__ or ""
    drawn = set(re.findall(r"\b([A-Z][A-Za-z]+Error)\b", doc))
    exported = {
        name
        for name in errors.__all__
        if isinstance(getattr(errors, name), type) and issubclass(getattr(errors, name), Exception)
    }
    assert drawn == exported
    for name in exported:
        assert issubclass(getattr(errors, name), DeviceFlowError)


def test_transport_errors_transient_flags() -> None:
    assert errors.ReadError("reset").is_transient
    assert errors.ConnectTimeoutError("slow").is_transient
    assert not errors.TLSError("bad cert").is_transient
    assert not errors.InsecureTransportError("http").is_transient
    assert errors.ConnectError("refused", request=None).request is None
