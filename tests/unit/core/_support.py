"""Scripted server answers for driving the core in unit tests, one set per dialect."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from deviceflow.core import (
    DeviceCodeIssued,
    DeviceFlow,
    Endpoints,
    HttpRequest,
    HttpResponse,
    microsoft_endpoints,
)

GRAPH = "https://graph.microsoft.com"


class Dialect:
    """How one server family shapes its answers (Microsoft v2.0, v1, plain RFC 8628)."""

    def __init__(
        self,
        name: str,
        endpoints: Endpoints,
        *,
        uri_member: str,
        numbers_as_strings: bool,
        denied: str,
        expired: str,
        resource: str | None = None,
        scopes: tuple[str, ...] = (),
    ) -> None:
        self.name = name
        self.endpoints = endpoints
        self.uri_member = uri_member
        self.numbers_as_strings = numbers_as_strings
        self.denied = denied
        self.expired = expired
        self.resource = resource
        self.scopes = scopes

    def number(self, value: int) -> int | str:
        return str(value) if self.numbers_as_strings else value

    def flow(self) -> DeviceFlow:
        return DeviceFlow("client-1", self.endpoints, scopes=self.scopes, resource=self.resource)

    def device_code_body(self, **overrides: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "device_code": "DEVICE-CODE-SECRET",
            "user_code": "WDJB-MJHT",
            self.uri_member: "https://example.test/device",
            "expires_in": self.number(900),
            "interval": self.number(5),
            "message": "Open https://example.test/device and enter WDJB-MJHT.",
        }
        body.update(overrides)
        return {key: value for key, value in body.items() if value is not None}

    def token_body(self, **overrides: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "token_type": "Bearer",
            "access_token": "ACCESS-TOKEN-SECRET",
            "expires_in": self.number(3599),
            "refresh_token": "REFRESH-TOKEN-SECRET",
        }
        if self.name == "v2":
            body.update(scope="User.Read openid profile", ext_expires_in=3599)
        if self.name == "v1":
            body.update(resource=GRAPH, expires_on="1700003599")
        body.update(overrides)
        return {key: value for key, value in body.items() if value is not None}

    def __repr__(self) -> str:
        return self.name


V2 = Dialect(
    "v2",
    microsoft_endpoints("common"),
    uri_member="verification_uri",
    numbers_as_strings=False,
    denied="authorization_declined",
    expired="expired_token",
    scopes=("User.Read", "offline_access"),
)
V1 = Dialect(
    "v1",
    microsoft_endpoints("common", version="v1"),
    uri_member="verification_url",
    numbers_as_strings=True,
    denied="authorization_declined",
    expired="code_expired",
    resource=GRAPH,
)
RFC = Dialect(
    "rfc8628",
    Endpoints(
        device_authorization_url="https://as.example.test/device_authorization",
        token_url="https://as.example.test/token",
        dialect="rfc8628",
    ),
    uri_member="verification_uri",
    numbers_as_strings=False,
    denied="access_denied",
    expired="expired_token",
    scopes=("openid", "profile"),
)
DIALECTS = (V2, V1, RFC)


def respond(
    status: int, body: dict[str, Any] | bytes, headers: dict[str, str] | None = None
) -> HttpResponse:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return HttpResponse(status=status, headers=headers, body=raw)


def error(code: str, status: int = 400, **extra: Any) -> HttpResponse:
    return respond(status, {"error": code, **extra})


def form(request: HttpRequest) -> dict[str, str]:
    return dict(parse_qsl(request.body.decode("ascii"), strict_parsing=True))


def issued(dialect: Dialect, now: float = 1000.0) -> tuple[DeviceFlow, DeviceCodeIssued]:
    """A flow that holds a device code, issued at ``now``."""
    flow = dialect.flow()
    flow.start()
    event = flow.receive(respond(200, dialect.device_code_body()), now)
    assert isinstance(event, DeviceCodeIssued)
    return flow, event
