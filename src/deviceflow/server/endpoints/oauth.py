"""The device authorization, token and revocation endpoints, as bare ASGI handlers.

These are the endpoints devices hit, the token endpoint every few seconds per device while the
user is away approving. They skip the framework's request object: one body read, one form parse
(:func:`~deviceflow.server.endpoints._http.parse_form`), one engine call, one JSON write. Protocol
rules live in the engine; parameter spelling lives in the tenant's dialect. A form body is also
accepted on ``GET`` because Microsoft-era clients send one there (the original sample's Postman
collection does). Each endpoint exists twice under a Microsoft tenant layout: ``/oauth2/v2.0/``
and the v1 ``/oauth2/`` generation (``?api-version=1.0`` is accepted and ignored); the dialect
is told which one answered through a :class:`~deviceflow.server.dialects.base.Wire`.

Responses carry ``Cache-Control: no-store`` (RFC 8628 §3.2 by way of RFC 6749 §5.1).
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Callable, Mapping
from urllib.parse import quote

from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from deviceflow.server.dialects import Dialect, Verification
from deviceflow.server.dialects.base import (
    DEVICE_CODE_GRANT,
    REFRESH_TOKEN_GRANT,
    ParameterError,
    Version,
    Wire,
)
from deviceflow.server.endpoints._credentials import (
    Credentials,
    client_credentials,
    named_client,
    uses_basic,
)
from deviceflow.server.endpoints._http import (
    POLL_ANSWER,
    FormError,
    client_ip,
    encode_json,
    header,
    headers_of,
    is_form,
    json_headers,
    parse_form,
    read_body,
    send_json,
    whole_body,
)
from deviceflow.server.endpoints.context import ServerContext
from deviceflow.server.grant import (
    AUTHORIZATION_PENDING,
    AuthorizationPending,
    GrantError,
    IssuedTokens,
    SlowDown,
    parse_claims,
)
from deviceflow.server.settings import Tenant

logger = logging.getLogger("deviceflow.server.oauth")

_METHODS = ("POST", "GET")
_Encoded = tuple[bytes, tuple[tuple[bytes, bytes], ...]]
"""A JSON body and its headers, encoded once."""
_Form = dict[str, str]


class _Request:
    """One request: its ASGI ``scope`` and ``send``, its headers by name, its form once read,
    and its :class:`Wire`.

    The wire is built on first use (calling the request gives it too): a pending poll answered
    with the RFC dialect's fixed body never needs one (no request id).
    """

    __slots__ = (
        "_endpoint", "_wire", "authorization", "form", "headers", "scope", "segment", "send",
    )  # fmt: skip

    def __init__(self, endpoint: _Endpoint, scope: Scope, send: Send, segment: str) -> None:
        self._endpoint = endpoint
        self.scope = scope
        self.send = send
        self.segment = segment
        """The first path segment: the tenant as the client wrote it."""
        self._wire: Wire | None = None
        self.form: Mapping[str, str] | None = None
        """The parsed form, once it is known (the wire reads a few parameters)."""
        self.headers = headers_of(scope)
        """Each header's first value, raw (``_http.headers_of``)."""
        self.authorization = header(scope, b"authorization")
        """The ``Authorization`` header (HTTP Basic, when a client uses it)."""

    def header(self, name: bytes) -> str | None:
        """The first value of header ``name``, decoded as Latin-1 (``_http.header``)."""
        return header(self.scope, name)

    def wire(self) -> Wire:
        """The per-request facts the dialect spells its bodies with (the form's once read)."""
        if self._wire is not None:
            return self._wire
        ctx = self._endpoint.ctx
        trace_id = ctx.request_id()
        form = self.form or {}
        authorization = self.authorization
        if authorization is not None and authorization[:6].lower() == "basic ":
            client_id = named_client(authorization, form)
        else:  # client_credentials' answer without Basic
            client_id = form.get("client_id") or None
        host, correlation = self.headers.get(b"host"), self.headers.get(b"client-request-id")
        self._wire = wire = Wire.of(
            ctx.base_url(self.scope, bytes(host).decode("latin-1") if host else None),
            ctx.clock(),
            trace_id,
            # A Microsoft client's own id for the request, else the trace id.
            (bytes(correlation).decode("latin-1") if correlation else trace_id)[:64],
            self._endpoint.version,
            form.get("client_info") == "1",
            form.get("resource") or None,
            (client_id or "")[:128] or None,
            self.segment[:64],
        )
        return wire

    __call__ = wire


class _Endpoint(abc.ABC):
    """Shared plumbing: tenant resolution, form reading, error rendering.

    Internal only (not an extension point): each endpoint below supplies :meth:`handle`, and a
    class that forgets to cannot even be built.
    """

    def __init__(self, ctx: ServerContext, *, version: Version = "v2") -> None:
        self.ctx = ctx
        self.version: Version = version
        self.tenants: dict[str, Tenant] = {}
        """The tenants of the path segments seen (``ctx.settings`` is fixed: so are they)."""
        self._encoded: dict[tuple[str, int, str, str, str | None], _Encoded] = {}
        """Error answers of cacheable dialects (``authorization_pending`` above all), encoded
        once, by dialect, status, error, description and reason."""

    def wire(self, scope: Scope, send: Send, form: Mapping[str, str] | None = None) -> Wire:
        """The wire of a request this endpoint did not read itself (test control answers
        queued failures with it)."""
        req = _Request(self, scope, send, scope["path_params"]["tenant"])
        req.form = form
        return req.wire()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        segment = scope["path_params"]["tenant"]
        tenant = self.tenants.get(segment)
        if tenant is None:
            tenant = self.ctx.settings.resolve_tenant(segment)
            if tenant is not None:
                if len(self.tenants) >= 256:  # spellings of tenant names; stay bounded
                    self.tenants.clear()
                self.tenants[segment] = tenant
        dialect = self.ctx.dialects["microsoft" if tenant is None else tenant.dialect]
        req = _Request(self, scope, send, segment)
        if scope["method"] not in _METHODS:
            allow = ((b"allow", b"POST, GET"),)
            body = dialect.error_body("invalid_request", "Use POST.", wire=req.wire())
            await send_json(send, 405, body, extra_headers=allow)
            return
        if tenant is None:
            body = dialect.error_body(
                "invalid_tenant", "The tenant in the URL is not known here.", wire=req.wire()
            )
            await send_json(send, 400, body)
            return
        try:
            # Most bodies come whole in the first message: no reading coroutine for those.
            message = await receive()
            raw = whole_body(message)
            if raw is None:
                raw = await read_body(receive, first=message)
            if raw and not is_form(req.headers.get(b"content-type")):
                raise FormError("expected an application/x-www-form-urlencoded body")
            form = parse_form(raw)
            req.form = form
            await self.handle(req, tenant, dialect, form)
        except (FormError, ParameterError) as exc:
            error = exc.error if isinstance(exc, ParameterError) else "invalid_request"
            await send_json(send, 400, dialect.error_body(error, str(exc), wire=req.wire()))
        except GrantError as exc:
            if exc.error == "invalid_client" and uses_basic(req.authorization):
                # RFC 6749 §5.2: a client that tried the Authorization header "MUST" get 401.
                exc.status = 401
            await self.send_error(send, dialect, exc, req)

    async def send_error(
        self, send: Send, dialect: Dialect, exc: GrantError, wire: Callable[[], Wire]
    ) -> None:
        if exc.retry_after is None and exc.status != 401:  # a body and the JSON headers only
            raw, headers = self.encoded_error(dialect, exc, wire)
            await send({"type": "http.response.start", "status": exc.status, "headers": headers})
            await send({"type": "http.response.body", "body": raw})
            return
        extra: list[tuple[bytes, bytes]] = []
        if exc.retry_after is not None:
            extra.append((b"retry-after", str(int(exc.retry_after)).encode()))
        if exc.status == 401:
            extra.append((b"www-authenticate", b'Basic realm="deviceflow"'))
        body = dialect.error_body(
            exc.error, exc.description or exc.error, reason=exc.reason, wire=wire()
        )
        await send_json(send, exc.status, body, extra_headers=extra)

    def encoded_error(
        self, dialect: Dialect, exc: GrantError, wire: Callable[[], Wire]
    ) -> _Encoded:
        """The body of ``exc`` (one without extra headers), encoded, and its JSON headers."""
        if dialect.cacheable_errors:
            # The body depends on the error, its description and reason only (never on the
            # wire): encode it once; a fleet's "not yet" polls then cost no JSON work.
            detail = exc.description or exc.error
            key = (dialect.name, exc.status, exc.error, detail, exc.reason)
            encoded = self._encoded.get(key)
            if encoded is None:
                body = dialect.error_body(exc.error, detail, reason=exc.reason, wire=wire())
                raw = encode_json(body)
                encoded = (raw, json_headers(raw))
                if len(self._encoded) < 64:  # descriptions are fixed texts; stay bounded
                    self._encoded[key] = encoded
            return encoded
        # A Microsoft tenant's pending poll: the dialect fills in its body's per-request ids.
        detail = exc.description or exc.error
        raw = dialect.error_json(exc.error, detail, reason=exc.reason, wire=wire())
        return raw, json_headers(raw)

    @abc.abstractmethod
    async def handle(self, req: _Request, tenant: Tenant, dialect: Dialect, form: _Form) -> None:
        """Answer one request whose tenant and form were read and checked."""


def _required(form: _Form, name: str) -> str:
    value = form.get(name, "")
    if not value:
        raise ParameterError(f"The request must include {name}.")
    return value


def _client_id(credentials: Credentials) -> str:
    if not credentials.client_id:
        raise ParameterError("The request must include client_id.")
    return credentials.client_id


class DeviceAuthorizationEndpoint(_Endpoint):
    """``POST /{tenant}/oauth2/v2.0/devicecode`` (RFC 8628 §3.1, §3.2) and the v1 twin."""

    async def handle(self, req: _Request, tenant: Tenant, dialect: Dialect, form: _Form) -> None:
        """Issue a device code and a user code; answer with the §3.2 body."""
        credentials = client_credentials(req.authorization, form)
        client_id = _client_id(credentials)
        accounts = self.ctx.engine.accounts
        dialect.check_client(form, lambda: accounts.client(client_id))
        wanted_scope, resource = dialect.target(form, req.wire())
        authorization = self.ctx.engine.device.authorize(
            tenant=tenant,
            client_id=client_id,
            scope=wanted_scope,
            resource=resource,
            device_ip=client_ip(req.scope),
            user_agent=req.header(b"user-agent"),
            client_secret=credentials.secret,
        )
        verification_uri = self.ctx.base_url(req.scope) + self.ctx.paths["devicelogin"]
        complete = None
        if tenant.sends_verification_uri_complete:
            complete = f"{verification_uri}?code={quote(authorization.user_code, safe='')}"
        body = dialect.device_authorization_body(
            authorization, Verification(verification_uri, complete), req.wire()
        )
        await send_json(req.send, 200, body)


class TokenEndpoint(_Endpoint):
    """``POST /{tenant}/oauth2/v2.0/token``: device code polls (§3.4, §3.5) and refreshes.

    A device code poll is answered by the engine's device grant with a value: pending (most
    polls; its body is encoded once), ``slow_down``, or the tokens; terminal errors are raised.
    """

    def __init__(self, ctx: ServerContext, *, version: Version = "v2") -> None:
        super().__init__(ctx, version=version)
        self._pending = AUTHORIZATION_PENDING.error()
        """The answer to a pending poll: made once, only ever sent (never raised)."""
        self._slow_downs: dict[SlowDown | AuthorizationPending, GrantError] = {}
        """The ``slow_down`` answers by interval, made once each (a polling storm's answers)."""

    def _slow_down(self, outcome: SlowDown | AuthorizationPending) -> GrantError:
        error = self._slow_downs.get(outcome)
        if error is None:
            if len(self._slow_downs) >= 64:  # intervals come from a few settings; stay bounded
                self._slow_downs.clear()
            error = self._slow_downs[outcome] = outcome.error()
        return error

    def poll_answer(
        self,
        req: _Request,
        tenant: Tenant,
        dialect: Dialect,
        client_id: str,
        outcome: AuthorizationPending | SlowDown,
    ) -> tuple[GrantError, bytes, tuple[tuple[bytes, bytes], ...]]:
        """A poll's pending or ``slow_down`` answer: the error, its body and headers (marked in
        the scope to be counted in the access log's tally rather than logged: ``_access``)."""
        if outcome is AUTHORIZATION_PENDING:  # most polls
            error, answer = self._pending, 0
        else:
            error, answer = self._slow_down(outcome), 1
        req.scope[POLL_ANSWER] = (tenant.id, client_id, answer)
        return (error, *self.encoded_error(dialect, error, req))

    async def handle(self, req: _Request, tenant: Tenant, dialect: Dialect, form: _Form) -> None:
        """Redeem a device code or a refresh token."""
        grant_type = form.get("grant_type")  # _required(), inline: every poll comes this way
        if not grant_type:
            raise ParameterError("The request must include grant_type.")
        grant_type = dialect.grant_type(grant_type)
        engine = self.ctx.engine
        issuer_name = dialect.issuer_name(req.segment, tenant.guid)
        credentials = client_credentials(req.authorization, form)
        # A claims challenge answered (grant._cae): checked first, met once tokens are issued.
        claims = parse_claims(form["claims"]) if form.get("claims") else None
        if grant_type == DEVICE_CODE_GRANT:
            device_code = dialect.device_code(form)
            if not device_code:
                raise ParameterError("The request must include device_code.")
            polling = credentials.client_id  # _client_id(), inline: every poll comes this way
            if not polling:
                raise ParameterError("The request must include client_id.")
            client_id = polling
            # The pending poll's lookup, when the dialect needs it: no query for most polls
            # (grant._accounts).
            dialect.check_client(form, lambda: engine.accounts.client(client_id, for_poll=True))
            outcome = await engine.device.apoll(
                tenant=tenant,
                client_id=client_id,
                device_code=device_code,
                ip=client_ip(req.scope),
                client_secret=credentials.secret,
                issuer_name=issuer_name,
                resource=form.get("resource") or None,  # every dialect's target()
            )
            if not isinstance(outcome, IssuedTokens):  # an answer to send, not raise
                error, raw, headers = self.poll_answer(req, tenant, dialect, client_id, outcome)
                send = req.send  # sent here: a poll's answer costs no helper coroutine
                await send(
                    {"type": "http.response.start", "status": error.status, "headers": headers}
                )
                await send({"type": "http.response.body", "body": raw})
                return
            tokens = outcome
        elif grant_type == REFRESH_TOKEN_GRANT:
            named: str | None = credentials.client_id
            if named or dialect.names_client_on_refresh:
                client_id = _client_id(credentials)
                dialect.check_client(form, lambda: engine.accounts.client(client_id))
                named = client_id
            wanted_scope, resource = dialect.target(form, req.wire())
            tokens = engine.refresh(
                tenant=tenant,
                client_id=named,
                refresh_token=_required(form, "refresh_token"),
                scope=wanted_scope,
                ip=client_ip(req.scope),
                issuer_name=issuer_name,
                client_secret=credentials.secret,
                resource=resource,
                user_agent=req.header(b"user-agent"),
            )
        else:
            raise ParameterError(
                "This server supports the device_code and refresh_token grants.",
                error="unsupported_grant_type",
            )
        if claims:
            tokens = engine.cae.satisfy(tokens, claims)
        await send_json(req.send, 200, dialect.token_body(tokens, wire=req.wire()))


class IntrospectionEndpoint(_Endpoint):
    """``POST /{tenant}/oauth2/v2.0/introspect`` (RFC 7662 §2.1, §2.2).

    The caller authenticates as a confidential client of the tenant (HTTP Basic or
    ``client_secret``); anyone else gets ``401 invalid_client``. Tokens of other tenants are
    ``active: false``.
    """

    async def handle(self, req: _Request, tenant: Tenant, dialect: Dialect, form: _Form) -> None:
        """Answer whether a token is active, and its metadata when it is."""
        credentials = client_credentials(req.authorization, form)
        answer = self.ctx.engine.introspect(
            tenant=tenant,
            token=_required(form, "token"),
            client_id=credentials.client_id,
            client_secret=credentials.secret,
            ip=client_ip(req.scope),
        )
        await send_json(req.send, 200, answer)


class RevocationEndpoint(_Endpoint):
    """``POST /{tenant}/oauth2/v2.0/revoke`` (RFC 7009 §2.1, §2.2).

    The request names its client (``client_id``, or HTTP Basic): a confidential client
    authenticates, a public one only names itself; none, or an unknown one, is ``401
    invalid_client``. A token issued to another client is refused (``unauthorized_client``).
    """

    async def handle(self, req: _Request, tenant: Tenant, dialect: Dialect, form: _Form) -> None:
        """Revoke a token; unknown or already revoked tokens also get 200 (RFC 7009 §2.2)."""
        credentials = client_credentials(req.authorization, form)
        self.ctx.engine.revoke(
            tenant=tenant,
            token=_required(form, "token"),
            client_id=credentials.client_id,
            client_secret=credentials.secret,
            ip=client_ip(req.scope),
        )
        await send_json(req.send, 200, None)


def routes(ctx: ServerContext) -> list[Route]:
    """The OAuth endpoints: v2.0 (and revocation) first, they are the hot path; then v1."""
    v2, v1 = "/{tenant}/oauth2/v2.0", "/{tenant}/oauth2"
    return [
        Route(f"{v2}/token", TokenEndpoint(ctx), name="token"),
        Route(f"{v2}/devicecode", DeviceAuthorizationEndpoint(ctx), name="devicecode"),
        Route(f"{v2}/revoke", RevocationEndpoint(ctx), name="revoke"),
        Route(f"{v2}/introspect", IntrospectionEndpoint(ctx), name="introspect"),
        Route(f"{v1}/token", TokenEndpoint(ctx, version="v1"), name="token_v1"),
        Route(
            f"{v1}/devicecode",
            DeviceAuthorizationEndpoint(ctx, version="v1"),
            name="devicecode_v1",
        ),
    ]
