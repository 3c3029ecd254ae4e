"""``DeviceClient``: the device flow, a token store on flash and Graph calls, on MicroPython.

Theory of operation: RAM is the constraint (64 KiB of heap on a small board), so what stays
loaded is small: this module (the client, the store, the errors) and the core's errors. The rest
is loaded by phase and :func:`_unload` drops it before the next phase starts, so that no two
phases share the heap: the HTTP exchange (:mod:`._http`, kept between requests until a phase
needs the room), the endpoints (the core's ``_authority``; a discovery document is fetched with
nothing of the core loaded, trimmed, and only then interpreted; the result is kept in the store,
so a board resolves them once), the device code (:mod:`._device`), the caller's ``show`` (with
nothing of ours loaded but this module: a QR encoder and a frame buffer need the room), and the
polling or a refresh (:mod:`._grant`). A stored, unexpired token needs none of them.

Time comes from ``time.time()``, which must be set (``ntptime``) for tokens to survive a reboot,
since the store keeps wall-clock expiry times.
"""

import gc
import json
import os
import sys
import time

from deviceflow.core._errors import DeviceFlowError
from micropython import const

#: A token this close to expiry (seconds) is refreshed before use.
_LEEWAY = const(60)
#: While the client works, the heap is collected after every this many bytes allocated.
_GC_EVERY = const(4096)
#: The modules a phase loads, and :func:`_unload` drops: ours, and the core's but its errors.
_PHASES = (
    "deviceflow.micro._http",
    "deviceflow.micro._setup",
    "deviceflow.micro._answer",
    "deviceflow.micro._device",
    "deviceflow.micro._grant",
)


class SignInRequired(DeviceFlowError):
    """No usable token and no refresh token that works: call ``sign_in()`` again."""


class TransportError(DeviceFlowError):
    """The request did not complete: refused, reset, dropped, timed out or cut short."""


class TLSError(TransportError):
    """The server's certificate could not be verified, or the TLS handshake failed."""


def _unload():
    """Forget the modules a phase imported, so that the next phase has their RAM back.

    Once a phase has returned nothing refers to them but ``sys.modules`` and their package (the
    callers ``del`` the names they imported them as), and a board with 64 KiB of heap wants the
    ~15-20 KiB back. Interned names stay: MicroPython never frees those.
    """
    for name in list(sys.modules):
        if name in _PHASES or (
            name.startswith("deviceflow.core._") and name != "deviceflow.core._errors"
        ):
            del sys.modules[name]
            dot = name.rfind(".")
            package = sys.modules.get(name[:dot])
            if package is not None and hasattr(package, name[dot + 1 :]):
                delattr(package, name[dot + 1 :])
    gc.collect()


def _collect_often():
    """Collect the heap after every few KiB allocated, until the threshold returned is restored.

    Between two collections MicroPython allocates ever higher in the heap, garbage left behind
    unused: what a phase keeps (the code to show, a poll body) lands above what it lets go, and the
    free space a token response's 1-3 KB strings each need in one piece ends up cut into bits.
    Collecting often keeps allocation low and that space whole: on the Unix port, a sign-in with
    2.2 KB access tokens took 53 KiB of heap instead of 62. The collections cost milliseconds, a
    few dozen of them per sign-in or refresh.
    """
    previous = gc.threshold()
    gc.threshold(_GC_EVERY)
    return previous


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
        self.scopes = " ".join(scopes.split())
        self.store = store
        self.timeout = timeout
        self._tls = None
        if ca:
            from ._setup import context

            # Made once, now, while the heap is in one piece: it is ~3 KiB in one block.
            self._tls = context(ca)
            del context
            _unload()
        self._saved = None

    # --- the public API --------------------------------------------------------------------------

    def sign_in(self, show):
        """Run the device flow: show the code, wait for the person, store the tokens.

        Args:
            show: called once with the code to show: ``.user_code``, ``.verification_uri``,
                ``.verification_uri_complete`` (or ``None``), ``.expires_at``, ``.message``.

        Raises:
            AccessDeniedError: the person declined.
            ExpiredTokenError: nobody finished before the code expired.
            OAuthError: another refusal (unknown client, scope, ...).
            TransportError: the server stayed unreachable for the first request.
            TLSError: the server's certificate cannot be verified.
        """
        previous = _collect_often()
        try:
            urls = self._urls()
            _unload()
            from . import _device

            code, poll, due = _device.start(self, urls)
            del _device  # each phase's module is let go like this, or it outlives _unload()
            _unload()
            show(code)
            interval, expires_at = code.interval, code.expires_at
            del code  # the message and URLs: not needed to poll
            # Collected now, from here: a collection that an allocation in the next import sets
            # off runs deeper in the stack, where words the caller's display code left behind
            # still point at what it used (a QR encoder: 13 KiB), and keep it.
            gc.collect()
            from . import _grant

            _grant.poll(self, urls, poll, due, interval, expires_at)
        except Exception:
            self._saved = None  # what is on flash: the tokens of before, if any
            raise
        finally:
            _unload()
            gc.threshold(previous)

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
        if access and (expires_at is None or expires_at - _LEEWAY > time.time()):
            return access
        if not saved.get("refresh_token"):
            raise SignInRequired("no refresh token here: call sign_in()")
        del access, saved
        previous = _collect_often()
        try:
            urls = self._urls()
            _unload()
            from . import _grant

            return _grant.refresh(self, urls)
        finally:
            _unload()
            gc.threshold(previous)

    def request(self, method, url, body=None, headers=None):
        """Call an API with the bearer token; on 401, refresh once and retry.

        Args:
            method: ``"GET"``, ``"POST"``, ...
            url: the absolute URL.
            body: ``bytes`` or ``str``, or a ``dict``/``list`` sent as JSON.
            headers: extra ``(name, value)`` pairs.

        Returns:
            ``(status, body)``: the body parsed from JSON when the answer is JSON, else bytes.

        Raises:
            SignInRequired: no token can be had without a new sign-in.
            TransportError: the server stayed unreachable (or answered 5xx/429) after retries.
            RemoteProtocolError: an answer labelled JSON is not JSON.
        """
        extra = [("Accept", "application/json")] + list(headers or ())
        if body is None:
            body = b""
        elif not isinstance(body, (bytes, str)):
            body = json.dumps(body)
            extra.append(("Content-Type", "application/json"))
        previous = _collect_often()
        try:
            for attempt in (1, 2):
                bearer = [("Authorization", "Bearer " + self.token())]
                from ._http import exchange

                response = exchange(self, method, url, bearer + extra, body)
                del bearer, exchange
                if response.status != 401 or attempt == 2:
                    return response.status, response.body
                self._load()["expires_at"] = 0  # the server says it is no good: refresh once
                response = None
        finally:
            gc.threshold(previous)

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

    def _urls(self):
        # [device authorization URL, token URL, dialect]: resolved once, by the core's
        # _authority in a phase of its own (:mod:`._setup`), and kept in the store with the
        # tokens, so that a board that restarts does not resolve them (nor load that code) again.
        saved = self._load()
        if not saved.get("endpoints"):
            _unload()
            from . import _setup

            saved["endpoints"] = _setup.endpoints(self)
            del _setup
            _unload()
        return saved["endpoints"]
