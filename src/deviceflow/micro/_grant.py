"""Token requests for ``DeviceClient``: the device flow's polling (RFC 8628 §3.4-3.5), the refresh
grant (RFC 6749 §6), and storing what they return.

Imported for a poll loop or a refresh only, and dropped afterwards (see ``_client._unload``).

Theory of operation: the CPython drivers run the core's ``DeviceFlow`` state machine; a board
with 64 KiB of heap cannot hold it next to a token response (the flow, its events and states and
``Token`` are ~25 KiB of RAM there), so these functions drive the same exchange in a plain loop.
The wire work is the core's: forms from ``form_encode``, members read with the codec's checks,
OAuth error bodies turned into the core's typed errors by ``oauth_error`` (the core's registry
decides which codes are known), ``Retry-After`` by ``retry_after``. The timing is RFC 8628 §3.5's,
as ``DeviceFlow`` applies it: polls one padded interval apart (x1.2 for clock drift, x1.4 once the
server has said ``slow_down``), ``slow_down`` adds 5 s for the rest of the flow, transient
failures (a dropped connection, 408, 429, 5xx, ``server_error``) back off exponentially up to a
minute or as ``Retry-After`` says, and no poll is sent at or after the code's expiry.

Answers arrive parsed (``_http`` streams JSON into a dict); of a token response only what the store
keeps is taken (the access token, its expiry, the refresh token), and the rest, the ID token
among it, is let go before the store is written.
"""

import time

from deviceflow.core import _codec as codec
from deviceflow.core._errors import OAUTH_ERRORS, ExpiredTokenError, InvalidGrantError

from ._answer import FORM, PADDING, answer, as_object
from ._client import SignInRequired, TLSError, TransportError
from ._http import exchange, send

_WHAT = "token response"
# OAuth answers to a refresh that only a new sign-in can fix (RFC 6749 §5.2, OpenID Connect).
_SIGN_IN_AGAIN = ("interaction_required", "login_required", "consent_required")


def _keep(client, response, now):
    """Store the tokens of a token response (or raise its error); return the access token."""
    obj = answer(response, _WHAT)
    status = response.status
    access = codec.required_str(obj, "access_token", _WHAT, status)
    lifetime = codec.seconds(obj, "expires_in", _WHAT, status, None)
    rotated = codec.optional_str(obj, "refresh_token")
    response.body = obj = None  # the ID token and the rest: gone before the store is written
    saved = client._load()
    if rotated:  # Microsoft rotates it on every refresh: keep the new one at once
        saved["refresh_token"] = rotated
    elif "refresh_token" not in saved:  # let go by refresh(), and kept by the server
        client._saved = None
        saved = client._load()  # the store on flash has it
    saved["access_token"] = access
    saved["expires_at"] = None if lifetime is None else now + lifetime
    client._save()
    return access


def poll(client, urls, body, due, interval, expires_at):
    """Poll ``urls[1]`` with ``body`` from ``due`` on, every ``interval`` seconds (padded), until
    the person has finished; store the tokens and return the access token.

    Raises:
        ExpiredTokenError: the code expired first (at ``expires_at``).
        OAuthError: the server's verdict (``AccessDeniedError``, ...).
        TLSError: the server's certificate cannot be verified.
    """
    padding = PADDING
    failures = 0
    while True:
        pause = min(due, expires_at) - time.time()
        if pause > 0:
            time.sleep(pause)
        if time.time() >= expires_at:
            raise ExpiredTokenError(
                "expired_token", "the device code expired before the user finished"
            )
        # The last answer is let go before the next is read: Entra's pending answers are ~2 KiB.
        after = response = obj = None
        try:
            response = send("POST", urls[1], FORM, body, client._tls, client.timeout)
        except TLSError:
            raise
        except TransportError:
            response = None
        now = time.time()
        if response is not None:
            status = response.status
            obj = as_object(response)
            error = codec.error_code(obj)
            if error is not None and "access_token" in obj:
                error = None  # a token that also names an error is a token
            if error == "authorization_pending":
                failures = 0
                due = now + interval * padding
                continue
            if error == "slow_down":
                # RFC 8628 §3.5: 5 s more for this and every later poll (or what the server says).
                failures = 0
                interval = max(interval + 5, int(codec.parse_number(obj.get("interval")) or 0))
                padding = 1.4
                due = now + interval * padding
                continue
            # 429, 5xx and their error codes are passing faults, not a verdict on the grant;
            # a known OAuth error is final whatever the status.
            if not (
                error in ("server_error", "temporarily_unavailable")
                or (error not in OAUTH_ERRORS and codec.is_transient_status(status))
            ):
                del obj
                return _keep(client, response, now)
            after = codec.retry_after(response)
        failures += 1
        base = interval * padding
        delay = min(base * 2 ** (failures - 1), max(base, 60))
        due = now + (delay if after is None else max(after, base))


def refresh(client, urls):
    """Redeem the stored refresh token at ``urls[1]``; store the tokens, return the access token.

    Raises:
        SignInRequired: the refresh token was refused; the store is forgotten.
    """
    # The old tokens leave the store in RAM (the refresh token goes into the request body, the
    # access token is no use now), so that no second copy of them, 2-5 KB at Entra, is held while
    # the answer with the new ones is read. The store on flash keeps them until it is rewritten,
    # and is read again if the refresh does not go through.
    saved = client._load()
    saved.pop("access_token", None)
    form = [("grant_type", "refresh_token"), ("client_id", client.client_id)]
    form.append(("refresh_token", saved.pop("refresh_token")))
    if urls[2] == "v2":
        form.append(("client_info", "1"))
    body = codec.form_encode(form)
    del form, saved
    try:
        response = exchange(client, "POST", urls[1], FORM, body)
        del body
        return _keep(client, response, time.time())
    except Exception as exc:
        client._saved = None  # back to the store on flash
        if isinstance(exc, InvalidGrantError) or getattr(exc, "error", None) in _SIGN_IN_AGAIN:
            client.forget()
            raise SignInRequired("the refresh token was refused: " + str(exc))
        raise
