"""The device authorization, token and revocation endpoints, as bare ASGI handlers.

These are the endpoints devices hit, the token endpoint every few seconds per device while the
user is away approving. They skip the framework's request object: one body read, one form parse
(:func:`~deviceflow.server.endpoints._http.parse_form`), one engine call, one JSON write. Protocol
rules live in the engine; parameter spelling lives in the tenant's dialect. A form body is also
accepted on ``GET`` because Microsoft-era clients send one there.

Responses carry ``Cache-Control: no-store`` (RFC 8628 §3.2 by way of RFC 6749 §5.1).
"""

from __future__ import annotations

import logging
from urllib.parse import quote

from starlette.types import Receive, Scope, Send

from deviceflow.server.dialects import Dialect
from deviceflow.server.dialects.base import DEVICE_CODE_GRANT, REFRESH_TOKEN_GRANT, ParameterError
from deviceflow.server.endpoints._http import (
    FormError,
    client_ip,
    header,
    is_form,
    parse_form,
    read_body,
    send_json,
)
from deviceflow.server.endpoints.context import ServerContext
from deviceflow.server.grant import GrantError
from deviceflow.server.settings import Tenant

logger = logging.getLogger("deviceflow.server.oauth")

_METHODS = ("POST", "GET")


class _Endpoint:
    """Shared plumbing: tenant resolution, form reading, error rendering."""

    def __init__(self, ctx: ServerContext) -> None:
        self.ctx = ctx

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        tenant = self.ctx.settings.resolve_tenant(scope["path_params"]["tenant"])
        dialect = self.ctx.dialects["microsoft" if tenant is None else tenant.dialect]
        if scope["method"] not in _METHODS:
            allow = ((b"allow", b"POST, GET"),)
            body = dialect.error_body("invalid_request", "Use POST.")
            await send_json(send, 405, body, extra_headers=allow)
            return
        if tenant is None:
            body = dialect.error_body("invalid_request", "The tenant in the URL is not known here.")
            await send_json(send, 400, body)
            return
        try:
            raw = await read_body(receive)
            if raw and not is_form(scope):
                raise FormError("expected an application/x-www-form-urlencoded body")
            form = parse_form(raw)
            await self.handle(scope, send, tenant, dialect, form)
        except (FormError, ParameterError) as exc:
            error = exc.error if isinstance(exc, ParameterError) else "invalid_request"
            await send_json(send, 400, dialect.error_body(error, str(exc)))
        except GrantError as exc:
            await self.send_error(send, dialect, exc)

    async def send_error(self, send: Send, dialect: Dialect, exc: GrantError) -> None:
        headers: list[tuple[bytes, bytes]] = []
        if exc.retry_after is not None:
            headers.append((b"retry-after", str(int(exc.retry_after)).encode()))
        if exc.status == 401:
            headers.append((b"www-authenticate", b'Basic realm="deviceflow"'))
        body = dialect.error_body(exc.error, exc.description or exc.error, aadsts=exc.aadsts)
        await send_json(send, exc.status, body, extra_headers=headers)

    async def handle(
        self, scope: Scope, send: Send, tenant: Tenant, dialect: Dialect, form: dict[str, str]
    ) -> None:
        raise NotImplementedError


def _required(form: dict[str, str], name: str) -> str:
    value = form.get(name, "")
    if not value:
        raise ParameterError(f"The request must include {name}.")
    return value


class DeviceAuthorizationEndpoint(_Endpoint):
    """``POST /{tenant}/oauth2/v2.0/devicecode`` (RFC 8628 §3.1, §3.2)."""

    async def handle(
        self, scope: Scope, send: Send, tenant: Tenant, dialect: Dialect, form: dict[str, str]
    ) -> None:
        """Issue a device code and a user code; answer with the §3.2 body."""
        authorization = self.ctx.engine.authorize_device(
            tenant=tenant,
            client_id=_required(form, "client_id"),
            scope=form.get("scope") or None,
            resource=form.get("resource") or None,
            device_ip=client_ip(scope),
            user_agent=header(scope, b"user-agent"),
        )
        verification_uri = self.ctx.base_url(scope) + self.ctx.paths["devicelogin"]
        complete = f"{verification_uri}?code={quote(authorization.user_code, safe='')}"
        body = dialect.device_authorization_body(
            authorization, verification_uri=verification_uri, verification_uri_complete=complete
        )
        await send_json(send, 200, body)


class TokenEndpoint(_Endpoint):
    """``POST /{tenant}/oauth2/v2.0/token``: device code polls (§3.4, §3.5) and refreshes."""

    async def handle(
        self, scope: Scope, send: Send, tenant: Tenant, dialect: Dialect, form: dict[str, str]
    ) -> None:
        """Redeem a device code or a refresh token."""
        grant_type = dialect.grant_type(_required(form, "grant_type"))
        engine = self.ctx.engine
        if grant_type == DEVICE_CODE_GRANT:
            device_code = dialect.device_code(form)
            if not device_code:
                raise ParameterError("The request must include device_code.")
            tokens = engine.poll(
                tenant=tenant,
                client_id=_required(form, "client_id"),
                device_code=device_code,
                ip=client_ip(scope),
            )
        elif grant_type == REFRESH_TOKEN_GRANT:
            tokens = engine.refresh(
                tenant=tenant,
                client_id=_required(form, "client_id"),
                refresh_token=_required(form, "refresh_token"),
                scope=form.get("scope") or None,
                ip=client_ip(scope),
            )
        else:
            raise ParameterError(
                "This server supports the device_code and refresh_token grants.",
                error="unsupported_grant_type",
            )
        await send_json(send, 200, dialect.token_body(tokens))


class RevocationEndpoint(_Endpoint):
    """``POST /{tenant}/oauth2/v2.0/revoke`` (RFC 7009 §2.1, §2.2)."""

    async def handle(
        self, scope: Scope, send: Send, tenant: Tenant, dialect: Dialect, form: dict[str, str]
    ) -> None:
        """Revoke a token; unknown or already revoked tokens also get 200 (RFC 7009 §2.2)."""
        self.ctx.engine.revoke(
            token=_required(form, "token"), client_id=form.get("client_id") or None
        )
        await send_json(send, 200, None)
