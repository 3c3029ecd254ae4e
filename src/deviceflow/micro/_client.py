"""``DeviceClient``: the device flow, a token store on flash and Graph calls, on MicroPython.

Theory of operation: the protocol is the core's (``DeviceFlow`` for the sign-in, ``_refresh`` for
the refresh grant); this module only drives it with :func:`deviceflow.micro._http.send`, a clock
(``time.time()``, which must be set, e.g. by ``ntptime``, for tokens to survive a reboot) and
``time.sleep``. RAM is the constraint: the flow's modules are imported on the first
``sign_in()``, the refresh grant's on the first refresh, and a stored, unexpired token needs
neither. Faults are survived as the CPython client survives them: while polling, the core turns a
dropped connection, 5xx, 429 (``Retry-After``) and ``slow_down`` into a later poll; the other
requests (device authorization, refresh, the caller's) are retried a few times with back-off.
"""

import gc
import json
import os
import sys
import time

from deviceflow.core._errors import DeviceFlowError, InvalidGrantError, OAuthError
from deviceflow.core._messages import HttpRequest

from ._http import TLSError, TransportError, load_ca, send

#: A token this close to expiry (seconds) is refreshed before use.
LEEWAY = 60
#: Attempts for one request outside the polling loop, and the first pause between two.
ATTEMPTS = 4
FIRST_PAUSE = 1
#: The longest pause a ``Retry-After`` may impose on a request outside the polling loop.
MAX_PAUSE = 30
_TRANSIENT = (408, 429, 500, 502, 503, 504)
# OAuth answers to a refresh that only a new sign-in can fix (RFC 6749 §5.2, OpenID Connect).
_SIGN_IN_AGAIN = ("interaction_required", "login_required", "consent_required")


# The core modules every phase uses; the others are dropped when a phase ends (see _unload).
_RESIDENT = ("deviceflow.core._errors", "deviceflow.core._messages")


def _unload():
    """Forget the core modules a phase imported, so that the next phase has their RAM back.

    A phase (sign-in, refresh) imports what it needs from ``deviceflow.core``; once it has
    returned, nothing refers to those modules but ``sys.modules`` and their package, and a board
    with 64 KiB of heap wants the ~40 KiB back. Their qstrs stay: MicroPython never frees those.
    """
    core = sys.modules.get("deviceflow.core")
    for name in list(sys.modules):
        if name.startswith("deviceflow.core._") and name not in _RESIDENT:
            del sys.modules[name]
            if core is not None and hasattr(core, name[16:]):
                delattr(core, name[16:])
    gc.collect()


class SignInRequired(DeviceFlowError):
    """No usable token and no refresh token that works: call ``sign_in()`` again."""


class DeviceClient:
    """Signs a board in with the device flow and keeps it signed in.

    Args:
        client_id: the application (client) id.
        authority: a Microsoft-style authority, ``https://host/tenant`` (ignored with ``issuer``).
        issuer: any RFC 8628 provider's issuer; its endpoints come from discovery.
        scopes: the scopes to ask for, space-separated.
        store: the file the tokens live in (written atomically: a temporary file, then rename).
        ca: a PEM or DER file with the CA certificate to verify TLS with, for ports without
            default roots (MicroPython's). Verification is never turned off.
        timeout: seconds allowed for each network operation.

    Raises:
        ValueError: ``client_id`` or ``scopes`` is empty.
        TLSError: ``ca`` cannot be read.
    """

    def __init__(
        self,
        client_id,
        authority="https://login.microsoftonline.com/organizations",
        *,
        issuer=None,
        scopes="User.Read offline_access",
        store="token.json",
        ca=None,
        timeout=20,
    ):
        if not client_id or not scopes:
            raise ValueError("client_id and scopes must not be empty")
        self.client_id = client_id
        self.where = issuer or authority
        self.issuer = issuer
        self.scopes = tuple(scopes.split())
        self.store = store
        self.timeout = timeout
        self._cadata = load_ca(ca) if ca else None
        self._saved = None

    # --- the public API --------------------------------------------------------------------------

    def sign_in(self, show):
        """Run the device flow: show the code, wait for the person, store the tokens.

        Args:
            show: called once with the core's ``DeviceCodeIssued`` (``.user_code``,
                ``.verification_uri``, ``.verification_uri_complete`` or ``None``,
                ``.expires_at``, ``.message``).

        Raises:
            AccessDeniedError: the person declined.
            ExpiredTokenError: nobody finished before the code expired.
            OAuthError: another refusal (unknown client, scope, ...).
            TransportError: the server stayed unreachable for the first request.
            TLSError: the server's certificate cannot be verified.
        """
        try:
            self._urls()
            _unload()  # discovery's code, before the flow's
            self._sign_in(show)
        finally:
            _unload()

    def _sign_in(self, show):
        from deviceflow.core._events import TokenIssued
        from deviceflow.core._flow import DeviceFlow

        flow = DeviceFlow(self.client_id, self._endpoints(), scopes=self.scopes)
        event = flow.receive(self._exchange(flow.start()), time.time())
        show(event)
        while not isinstance(event, TokenIssued):
            pause = event.next_poll_at - time.time()
            if pause > 0:
                time.sleep(pause)
            request = flow.poll(time.time())
            try:
                response = send(request, self._cadata, self.timeout)
            except TLSError:
                raise
            except TransportError as exc:
                event = flow.transport_failed(time.time(), str(exc))
                continue
            del request
            event = flow.receive(response, time.time())
            del response
        self._keep(event.token)

    def token(self):
        """A valid access token: the stored one, or a new one from the refresh token.

        Raises:
            SignInRequired: there is no token, or the refresh token was refused (revoked,
                expired); the stored tokens are forgotten.
            TransportError: the server stayed unreachable.
            OAuthError: the server refused the refresh for another reason.
        """
        saved = self._load()
        access = saved.get("access_token")
        expires_at = saved.get("expires_at")
        if access and (expires_at is None or expires_at - LEEWAY > time.time()):
            return access
        del access
        try:
            return self._refresh()
        finally:
            _unload()

    def request(self, method, url, body=None, headers=None):
        """Call an API with the bearer token; on 401, refresh once and retry.

        Args:
            method: ``"GET"``, ``"POST"``, ...
            url: the absolute URL.
            body: ``bytes``, or a ``dict``/``list`` sent as JSON.
            headers: extra ``(name, value)`` pairs.

        Returns:
            ``(status, body)``: the body parsed from JSON when the answer is JSON, else bytes.

        Raises:
            SignInRequired: no token can be had without a new sign-in.
            TransportError: the server stayed unreachable (or answered 5xx/429) after retries.
        """
        extra = list(headers or ())
        if body is None:
            body = b""
        elif not isinstance(body, bytes):
            body = json.dumps(body).encode()
            extra.append(("Content-Type", "application/json"))
        response = self._call(method, url, extra, body)
        if response.status == 401:
            self._load()["expires_at"] = 0  # the server says it is no good: refresh once
            response = None
            response = self._call(method, url, extra, body)
        status, data = response.status, response.body
        json_answer = "json" in (response.header("Content-Type") or "")
        del response
        if json_answer and data:
            try:
                data = json.loads(data)
            except ValueError:
                pass
        return status, data

    def _call(self, method, url, extra, body):
        pairs = [("Authorization", "Bearer " + self.token()), ("Accept", "application/json")]
        return self._exchange(HttpRequest(method=method, url=url, headers=pairs + extra, body=body))

    def forget(self):
        """Delete the stored tokens (sign out on this device)."""
        self._saved = {}
        try:
            os.remove(self.store)
        except OSError:
            pass

    # --- the store -------------------------------------------------------------------------------

    def _load(self):
        if self._saved is None:
            try:
                with open(self.store) as f:
                    saved = json.load(f)
            except (OSError, ValueError):
                saved = {}
            # Tokens kept for another application or authority are not ours to use.
            if saved.get("client_id") != self.client_id or saved.get("where") != self.where:
                saved = {}
            self._saved = saved
        return self._saved

    def _save(self):
        saved = self._saved
        saved["client_id"] = self.client_id
        saved["where"] = self.where
        temporary = self.store + ".tmp"
        with open(temporary, "w") as f:
            json.dump(saved, f)
        try:
            os.rename(temporary, self.store)
        except OSError:  # FAT cannot rename over a file
            os.remove(self.store)
            os.rename(temporary, self.store)

    def _keep(self, token):
        saved = self._load()
        saved["access_token"] = token.access_token
        saved["expires_at"] = token.expires_at
        if token.refresh_token:
            saved["refresh_token"] = token.refresh_token
        self._save()

    # --- the network ---------------------------------------------------------------------------

    def _endpoints(self):
        from deviceflow.core._endpoints import Endpoints

        urls = self._urls()
        return Endpoints(device_authorization_url=urls[0], token_url=urls[1], dialect=urls[2])

    def _urls(self):
        # The endpoints are resolved once and kept in the store with the tokens: a board that
        # restarts does not run discovery (nor load its code) again.
        saved = self._load()
        if not saved.get("endpoints"):
            saved["endpoints"] = self._resolve()
        return saved["endpoints"]

    def _resolve(self):
        from deviceflow.core import _authority

        if self.issuer is None:
            found = _authority.microsoft_endpoints(authority=self.where)
        else:
            found = None
            for request in _authority.discovery_requests(self.issuer):
                response = self._exchange(request)
                if response.status == 200:
                    found = _authority.endpoints_from_metadata(response, issuer=self.issuer)
                    break
            if found is None:
                raise TransportError("no discovery document at " + self.issuer)
        return [found.device_authorization_url, found.token_url, found.dialect]

    def _refresh(self):
        from deviceflow.core._refresh import parse_token_response, refresh_request

        saved = self._load()
        refresh_token = saved.get("refresh_token")
        if not refresh_token:
            raise SignInRequired("no refresh token here: call sign_in()")
        request = refresh_request(self._endpoints(), self.client_id, refresh_token)
        del refresh_token
        response = self._exchange(request)
        del request
        try:
            token = parse_token_response(response, time.time(), requested_scopes=self.scopes)
        except OAuthError as exc:
            if isinstance(exc, InvalidGrantError) or exc.error in _SIGN_IN_AGAIN:
                self.forget()
                raise SignInRequired("the refresh token was refused: " + str(exc))
            raise
        del response
        self._keep(token)
        return token.access_token

    def _exchange(self, request):
        """Send ``request``, retrying dropped connections, 408, 429 and 5xx with back-off."""
        pause = FIRST_PAUSE
        for attempt in range(1, ATTEMPTS + 1):
            try:
                response = send(request, self._cadata, self.timeout)
            except TLSError:
                raise
            except TransportError:
                if attempt == ATTEMPTS:
                    raise
            else:
                if response.status not in _TRANSIENT:
                    return response
                if attempt == ATTEMPTS:
                    raise TransportError("HTTP " + str(response.status) + " from " + request.url)
                pause = _retry_after(response, pause)
                del response
            time.sleep(pause)
            pause = min(pause * 2, MAX_PAUSE)
        raise AssertionError("unreachable")


def _retry_after(response, pause):
    if response.header("Retry-After") is None:
        return pause
    from deviceflow.core._codec import retry_after

    after = retry_after(response)
    if after is None:
        return pause
    return min(max(after, pause), MAX_PAUSE)
