"""The device authorization flow (RFC 8628 §3) as a sans-I/O state machine.

Theory of operation: the caller (a "driver") owns the network and the clock. It asks the flow for
a request (:meth:`DeviceFlow.start`, :meth:`DeviceFlow.poll`), sends it however it likes, and hands
the response back with the current time (:meth:`DeviceFlow.receive`). The flow answers with an
event and the time of the next poll; it never sleeps and never reads a clock. A typical driver::

    flow = DeviceFlow(client_id, endpoints, scopes=("User.Read",))
    issued = flow.receive(send(flow.start()), now())          # DeviceCodeIssued: show the code
    event = issued
    while not isinstance(event, TokenIssued):
        sleep_until(event.next_poll_at)
        try:
            response = send(flow.poll(now()))
        except TransportError as exc:                          # refused, reset, timed out
            event = flow.transport_failed(now(), str(exc))
        else:
            event = flow.receive(response, now())              # Pending / SlowDown / Retrying

Timing rules (RFC 8628 §3.5 and the client checklist; the numbers and formulas live in
``_timing``, which the drivers share): the first poll comes one padded ``interval`` after the code
was issued; ``slow_down`` adds 5 s for the rest of the flow; ``next_poll_at`` is padded for clock
drift (×1.2, ×1.4 once the server has said ``slow_down``); transient failures back off
exponentially up to a cap, honouring ``Retry-After``; ``next_poll_at`` never passes
``expires_at``, and a poll at or after ``expires_at`` raises :class:`ExpiredTokenError`.

Legal calls per state live in ``_state.TRANSITIONS``; anything else raises
:class:`LocalProtocolError`. Any raised error leaves the flow in ``ERROR``.
"""

from ._codec import (
    clean_text,
    decode_json_object,
    error_code,
    form_post,
    is_success,
    is_transient_status,
    oauth_error,
    optional_str,
    required_str,
    retry_after,
    seconds,
    try_decode_json_object,
)
from ._endpoints import DIALECT_RFC8628, DIALECT_V1, DIALECT_V2, Endpoints
from ._errors import (
    OAUTH_ERRORS,
    DeviceFlowError,
    ExpiredTokenError,
    LocalProtocolError,
    RemoteProtocolError,
)
from ._events import AuthorizationPending, DeviceCodeIssued, Retrying, SlowDown, TokenIssued
from ._messages import HttpRequest, HttpResponse
from ._state import (
    AUTHORIZATION_PENDING,
    AWAITING_DEVICE_CODE,
    AWAITING_TOKEN,
    DEVICE_CODE_ISSUED,
    FAILED,
    IDLE,
    POLL,
    RETRYING,
    SLOW_DOWN,
    START,
    TOKEN_ISSUED,
    TRANSPORT_FAILED,
    WAITING,
    next_state,
)
from ._timing import (
    DEFAULT_EXPIRES_IN,
    DEFAULT_INTERVAL,
    backoff,
    padded_wait,
    slowed_interval,
)
from ._token import token_from_json
from ._url import url_member
from ._validate import is_text

# typing.TYPE_CHECKING without importing typing (MicroPython has none; CPython skips ~2 ms of
# start-up): type checkers treat the name as true.
TYPE_CHECKING = False

if TYPE_CHECKING:
    from typing import Any

    Event = DeviceCodeIssued | AuthorizationPending | SlowDown | Retrying | TokenIssued

DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
_WHAT_DEVICE = "device authorization response"
_WHAT_TOKEN = "token response"


def _check_now(now: object) -> float:
    if isinstance(now, bool) or not isinstance(now, (int, float)) or now != now:
        raise TypeError("now must be a number")
    return now


def _normalise_scopes(scopes: object) -> "tuple[str, ...]":
    if isinstance(scopes, str):
        scopes = scopes.split(" ")
    if not isinstance(scopes, (list, tuple)):
        raise TypeError("scopes must be a str or a sequence of str")
    out = []
    for scope in scopes:
        if not isinstance(scope, str):
            raise TypeError("each scope must be a str")
        if scope and scope not in out:
            out.append(scope)
    return tuple(out)


class DeviceFlow:
    """One device authorization flow, from the first request to a token or a terminal error.

    Args:
        client_id: the client identifier.
        endpoints: where to send requests, and in which dialect.
        scopes: the scopes to request (a sequence, or one space-separated string).
        resource: the resource to request a token for (required by the Microsoft v1 dialect; on
            v2 it becomes ``{resource}/.default`` when no scopes are given; RFC 8707 otherwise).

    Attributes:
        state: one of the state constants in ``deviceflow.core`` (``IDLE`` ... ``ERROR``).
        interval: the current polling interval in seconds (5 until the server says otherwise).
        next_poll_at: when the next poll may be sent, or ``None`` before a code was issued.
        expires_at: when the device code expires, or ``None`` before a code was issued.

    Raises:
        ValueError: an argument is empty or malformed, or ``resource`` is missing for v1.
        TypeError: an argument has the wrong type.
    """

    __slots__ = (
        "client_id",
        "endpoints",
        "scopes",
        "resource",
        "_state",
        "interval",
        "next_poll_at",
        "expires_at",
        "_device_code",
        "_earliest_poll",
        "_slowed",
        "_failures",
    )

    def __init__(
        self,
        client_id: str,
        endpoints: Endpoints,
        *,
        scopes: "tuple[str, ...] | list[str] | str" = (),
        resource: "str | None" = None,
    ) -> None:
        if not is_text(client_id):
            raise ValueError("client_id must be a non-empty str")
        if not isinstance(endpoints, Endpoints):
            raise TypeError("endpoints must be an Endpoints")
        if resource is not None and not is_text(resource):
            raise ValueError("resource must be a non-empty str or None")
        normalised = _normalise_scopes(scopes)
        if endpoints.dialect == DIALECT_V1 and resource is None:
            raise ValueError("the Microsoft v1 dialect needs resource=")
        if endpoints.dialect == DIALECT_V2 and not normalised and resource is not None:
            normalised = (resource.rstrip("/") + "/.default",)
        self.client_id = client_id
        self.endpoints = endpoints
        self.scopes = normalised
        self.resource = resource
        self._state = IDLE
        self.interval: float = DEFAULT_INTERVAL
        self.next_poll_at: "float | None" = None
        self.expires_at: "float | None" = None
        self._device_code: "str | None" = None
        self._earliest_poll = 0.0
        self._slowed = False
        self._failures = 0

    @property
    def state(self) -> str:
        """The current state (a string constant)."""
        return self._state

    def __repr__(self) -> str:
        return "<DeviceFlow " + self._state + " " + self.endpoints.dialect + ">"

    # --- the caller's side ------------------------------------------------------------------------

    def start(self) -> HttpRequest:
        """Return the device authorization request (RFC 8628 §3.1).

        Returns:
            A form ``POST`` to the device authorization endpoint.

        Raises:
            LocalProtocolError: the flow was already started; the flow enters ``ERROR``.
        """
        self._advance(START)
        pairs = [("client_id", self.client_id)]
        dialect = self.endpoints.dialect
        if dialect == DIALECT_V1:
            pairs.append(("resource", str(self.resource)))
        else:
            if self.scopes:
                pairs.append(("scope", " ".join(self.scopes)))
            if dialect == DIALECT_RFC8628 and self.resource is not None:
                pairs.append(("resource", self.resource))
        return form_post(self.endpoints.device_authorization_url, pairs)

    def poll(self, now: float) -> HttpRequest:
        """Return the next device access token request (RFC 8628 §3.4).

        Args:
            now: the current time, on the clock used for every other call.

        Returns:
            A form ``POST`` to the token endpoint.

        Raises:
            ExpiredTokenError: ``now`` is at or past ``expires_at``; the flow enters ``ERROR``.
            LocalProtocolError: no device code is held (wrong state), or ``now`` is less than one
                ``interval`` after the last response (RFC 8628 §3.5); the flow enters ``ERROR``.
        """
        now = _check_now(now)
        if self._state != WAITING:
            self._advance(POLL)  # not in the table: raises LocalProtocolError
        if self.expires_at is not None and now >= self.expires_at:
            self._fail(
                ExpiredTokenError(
                    "expired_token", "the device code expired before the user finished"
                )
            )
        # RFC 8628 §3.5: "the client MUST wait at least the number of seconds specified by the
        # interval parameter of the device authorization response [...] between polling requests"
        if now < self._earliest_poll:
            self._fail(
                LocalProtocolError(
                    "poll() came " + str(self._earliest_poll - now) + " s early; wait for "
                    "next_poll_at (RFC 8628 section 3.5)"
                )
            )
        self._advance(POLL)
        dialect = self.endpoints.dialect
        code = str(self._device_code)
        pairs = [("grant_type", DEVICE_CODE_GRANT), ("client_id", self.client_id)]
        if dialect == DIALECT_V1:
            # Microsoft v1 reads the device code from ``code`` and wants the resource again.
            pairs.append(("code", code))
            pairs.append(("resource", str(self.resource)))
        else:
            pairs.append(("device_code", code))
            if dialect == DIALECT_V2:
                pairs.append(("client_info", "1"))
        return form_post(self.endpoints.token_url, pairs)

    def receive(self, response: HttpResponse, now: float) -> "Event":
        """Handle the response to the last request and return what happened.

        Args:
            response: the HTTP response to the request last returned by ``start()``/``poll()``.
            now: the current time.

        Returns:
            After ``start()``: :class:`DeviceCodeIssued`. After ``poll()``:
            :class:`AuthorizationPending`, :class:`SlowDown`, :class:`Retrying` (HTTP 5xx, 429,
            408, ``server_error``, ``temporarily_unavailable``) or :class:`TokenIssued`.

        Raises:
            OAuthError: a terminal OAuth error (:class:`AccessDeniedError`,
                :class:`ExpiredTokenError`, :class:`InvalidGrantError`, ...).
            RemoteProtocolError: the server broke the protocol (not JSON, missing members).
            LocalProtocolError: no request is outstanding.
            After any of these the flow is in ``ERROR``.
        """
        if not isinstance(response, HttpResponse):
            raise TypeError("response must be an HttpResponse")
        now = _check_now(now)
        try:
            if self._state == AWAITING_DEVICE_CODE:
                return self._receive_device_code(response, now)
            if self._state == AWAITING_TOKEN:
                return self._receive_token(response, now)
            raise LocalProtocolError("receive() without an outstanding request")
        except DeviceFlowError as exc:
            self._fail(exc)
            raise  # pragma: no cover - _fail always raises

    def transport_failed(self, now: float, reason: str) -> Retrying:
        """Report that the last poll never got a response (refused, reset, timed out).

        Args:
            now: the current time.
            reason: a short description for logs and callbacks (no secrets).

        Returns:
            A :class:`Retrying` event with the back-off applied.

        Raises:
            LocalProtocolError: no poll is outstanding; the flow enters ``ERROR``.
        """
        now = _check_now(now)
        if not is_text(reason):
            raise TypeError("reason must be a non-empty str")
        self._advance(TRANSPORT_FAILED)
        return self._retry(now, clean_text(reason, 200), None, None)

    # --- the server's side ------------------------------------------------------------------------

    def _receive_device_code(self, response: HttpResponse, now: float) -> DeviceCodeIssued:
        status = response.status
        obj = decode_json_object(response, _WHAT_DEVICE)
        code = error_code(obj)
        if code is not None:
            raise oauth_error(obj, code, status)
        if not is_success(status):
            raise RemoteProtocolError(_WHAT_DEVICE + " has no 'error' member", status=status)
        device_code = required_str(obj, "device_code", _WHAT_DEVICE, status)
        user_code = clean_text(required_str(obj, "user_code", _WHAT_DEVICE, status), 100)
        # Microsoft v1 spells it verification_url (reference §3, §8).
        uri = url_member(obj, ("verification_uri", "verification_url"))
        if uri is None:
            raise RemoteProtocolError(
                _WHAT_DEVICE + ": 'verification_uri' is missing or not an http(s) URL",
                status=status,
            )
        complete = url_member(obj, ("verification_uri_complete", "verification_url_complete"))
        expires_in = seconds(obj, "expires_in", _WHAT_DEVICE, status, DEFAULT_EXPIRES_IN)
        if not expires_in:
            raise RemoteProtocolError(_WHAT_DEVICE + ": 'expires_in' is zero", status=status)
        interval = seconds(obj, "interval", _WHAT_DEVICE, status, DEFAULT_INTERVAL)
        message = optional_str(obj, "message")
        if message is not None:
            message = clean_text(message)
        if not message:
            message = "To sign in, open " + uri + " and enter the code " + user_code + "."
        self._device_code = device_code
        self.expires_at = now + expires_in
        # A zero interval would let us hammer the server; one second is the floor.
        self.interval = max(int(interval or 0), 1)
        next_poll_at = self._schedule(now, padded_wait(self.interval, False))
        self._advance(DEVICE_CODE_ISSUED)
        return DeviceCodeIssued(
            user_code=user_code,
            verification_uri=uri,
            verification_uri_complete=complete,
            message=message,
            expires_at=self.expires_at,
            interval=self.interval,
            next_poll_at=next_poll_at,
        )

    def _receive_token(self, response: HttpResponse, now: float) -> "Event":
        status = response.status
        obj = try_decode_json_object(response)
        code = error_code(obj)
        if obj is not None and code is not None and "access_token" not in obj:
            # Classified by the error value, not the status: Google sends 428 and 403, GitHub 200.
            if code == "authorization_pending":
                self._failures = 0
                next_poll_at = self._schedule(now, self._padded())
                self._advance(AUTHORIZATION_PENDING)
                return AuthorizationPending(next_poll_at=next_poll_at)
            if code == "slow_down":
                return self._slow_down(obj, now)
            # An unknown code on a 429/5xx (a gateway's "too_many_requests") is a transient fault,
            # not a verdict on the grant: keep polling. Known codes stay terminal on any status.
            if code in ("server_error", "temporarily_unavailable") or (
                code not in OAUTH_ERRORS and is_transient_status(status)
            ):
                self._advance(RETRYING)
                return self._retry(now, code, status, retry_after(response))
            raise oauth_error(obj, code, status)
        if is_success(status) and obj is not None:
            token = token_from_json(
                obj, now, status=status, requested_scopes=self.scopes, resource=self.resource
            )
            self._device_code = None
            self._advance(TOKEN_ISSUED)
            return TokenIssued(token=token)
        if is_transient_status(status):
            self._advance(RETRYING)
            return self._retry(now, "HTTP " + str(status), status, retry_after(response))
        if obj is None:
            decode_json_object(response, _WHAT_TOKEN)  # raises with a snippet of the body
        raise RemoteProtocolError(_WHAT_TOKEN + " has no 'error' member", status=status)

    def _slow_down(self, obj: "dict[str, Any]", now: float) -> SlowDown:
        self._failures = 0
        self.interval = slowed_interval(self.interval, obj.get("interval"))
        self._slowed = True
        next_poll_at = self._schedule(now, self._padded())
        self._advance(SLOW_DOWN)
        return SlowDown(interval=self.interval, next_poll_at=next_poll_at)

    def _retry(
        self, now: float, reason: str, status: "int | None", after: "float | None"
    ) -> Retrying:
        self._failures += 1
        delay = backoff(self._padded(), self._failures, after)
        return Retrying(
            reason=reason,
            attempt=self._failures,
            next_poll_at=self._schedule(now, delay),
            status=status,
            retry_after=after,
        )

    # --- bookkeeping ------------------------------------------------------------------------------

    def _padded(self) -> float:
        return padded_wait(self.interval, self._slowed)

    def _schedule(self, now: float, delay: float) -> float:
        self._earliest_poll = now + self.interval
        when = now + delay
        if self.expires_at is not None and when > self.expires_at:
            when = self.expires_at
        self.next_poll_at = when
        return when

    def _advance(self, event: str) -> None:
        try:
            self._state = next_state(self._state, event)
        except LocalProtocolError as exc:
            self._fail(exc)

    def _fail(self, exc: DeviceFlowError) -> None:
        self._device_code = None
        self._state = next_state(self._state, FAILED)
        raise exc
