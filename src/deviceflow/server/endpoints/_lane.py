"""A device's pending poll answered from memory, with no ASGI cycle (``server.poll_lane``).

:func:`answer_from_memory` takes a token request whose head and body the HTTP protocol has
read, and answers it only when :class:`~deviceflow.server.endpoints.oauth.TokenEndpoint` would
answer it ``authorization_pending`` or ``slow_down`` without a statement: a public client's
well-formed device-code poll, in a tenant the endpoint has already seen, whose flow the device
grant trusts (:meth:`~deviceflow.server.grant.device.DeviceGrant.poll_from_memory`). The
answer is the endpoint's own (:meth:`~deviceflow.server.endpoints.oauth.TokenEndpoint.poll_answer`),
byte for byte. Anything else (None) goes the usual way, and nothing was counted or changed
before that: the ASGI path reads the request afresh.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from deviceflow.server.dialects.base import DEVICE_CODE_GRANT, ParameterError
from deviceflow.server.endpoints._http import FormError, client_ip, is_form, parse_form
from deviceflow.server.endpoints.oauth import TokenEndpoint, _Request
from deviceflow.server.grant import GrantError

if TYPE_CHECKING:
    from starlette.types import Scope

MAX_BODY = 4096
"""Bytes of form a poll answered here may carry (a device's poll sends about 150; larger
bodies go through the ASGI path and its limits)."""

Answer = tuple[int, tuple[tuple[bytes, bytes], ...], bytes]
"""A status, the response's headers and its body."""


def answer_from_memory(endpoint: TokenEndpoint, scope: Scope, body: bytes) -> Answer | None:
    """The answer to the token request of ``scope`` and ``body`` when memory gives it (see the
    module docstring), else None. ``scope["path_params"]`` names the tenant segment."""
    segment = scope["path_params"]["tenant"]
    tenant = endpoint.tenants.get(segment)  # resolved by an earlier request through the app
    if tenant is None or scope["method"] != "POST" or len(body) > MAX_BODY:
        return None
    req = _Request(endpoint, scope, None, segment)  # type: ignore[arg-type]  # never sends
    if req.authorization is not None or not is_form(req.headers.get(b"content-type")):
        return None
    try:
        form = parse_form(body)
    except FormError:
        return None
    if form.get("client_secret") or form.get("client_assertion") or form.get("claims"):
        return None  # a secret's check, a claims challenge: the ASGI path's work
    req.form = form
    ctx = endpoint.ctx
    dialect = ctx.dialects[tenant.dialect]
    client_id = form.get("client_id")
    grant_type = form.get("grant_type")
    if not client_id or not grant_type or dialect.grant_type(grant_type) != DEVICE_CODE_GRANT:
        return None
    try:
        device_code = dialect.device_code(form)
    except ParameterError:
        return None
    if not device_code:
        return None
    try:
        # Nothing presented, so no rule of any dialect applies (no lookup); checked all the
        # same, as the endpoint does.
        dialect.check_client(form, lambda: ctx.engine.accounts.client(client_id, for_poll=True))
    except GrantError:
        return None
    outcome = ctx.engine.device.poll_from_memory(
        tenant=tenant, client_id=client_id, device_code=device_code, ip=client_ip(scope)
    )
    if outcome is None:
        return None
    error, raw, headers = endpoint.poll_answer(req, tenant, dialect, client_id, outcome)
    return error.status, headers, raw
