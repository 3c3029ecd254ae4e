"""The start of the device flow (RFC 8628 §3.1-3.3) for ``DeviceClient.sign_in``.

Imported to ask for a device code and read the answer, then dropped before ``show`` runs, so that
the caller's display code (a QR encoder, a frame buffer) has the heap to itself; the polling that
follows is :mod:`._grant`'s. The answer is read as the core's ``DeviceFlow`` reads it, with the
core's codec: the device code and user code are required, ``verification_uri`` (or Microsoft v1's
and Google's ``verification_url``) must be an http(s) URL, ``expires_in`` defaults to 30 minutes
and ``interval`` to 5 s (at least 1), and the message is the server's, cleaned of control
characters, or one built from the code and the URL.
"""

import time

from deviceflow.core import _codec as codec
from deviceflow.core._errors import RemoteProtocolError
from deviceflow.core._url import url_member

from ._answer import FORM, PADDING, answer
from ._http import exchange

_WHAT = "device authorization response"


class Code:
    """What ``show`` gets: ``user_code``, ``verification_uri``, ``verification_uri_complete``
    (or ``None``), ``expires_at`` (``time.time()`` clock), ``message`` and ``interval``."""


def start(client, urls):
    """Ask ``urls[0]`` for a device code.

    Returns:
        ``(code, poll, due)``: the :class:`Code` to show, the body of every poll (it holds the
        device code, which ``show`` never sees) and when the first poll is due.
    """
    saved = client._load()
    for name in ("access_token", "refresh_token", "expires_at"):  # a sign-in replaces them
        saved.pop(name, None)
    del saved
    form = [("client_id", client.client_id), ("scope", client.scopes)]
    response = exchange(client, "POST", urls[0], FORM, codec.form_encode(form))
    now = time.time()
    obj = answer(response, _WHAT)
    status = response.status
    code = Code()
    device_code = codec.required_str(obj, "device_code", _WHAT, status)
    code.user_code = codec.clean_text(codec.required_str(obj, "user_code", _WHAT, status), 100)
    code.verification_uri = url_member(obj, ("verification_uri", "verification_url"))
    if code.verification_uri is None:
        raise RemoteProtocolError(
            _WHAT + ": 'verification_uri' is missing or not an http(s) URL", status=status
        )
    code.verification_uri_complete = url_member(
        obj, ("verification_uri_complete", "verification_url_complete")
    )
    lifetime = codec.seconds(obj, "expires_in", _WHAT, status, 1800)
    if not lifetime:
        raise RemoteProtocolError(_WHAT + ": 'expires_in' is zero", status=status)
    code.expires_at = now + lifetime
    code.interval = max(codec.seconds(obj, "interval", _WHAT, status, 5) or 0, 1)
    code.message = codec.clean_text(codec.optional_str(obj, "message") or "") or (
        "To sign in, open " + code.verification_uri + " and enter the code " + code.user_code + "."
    )
    del obj, response
    poll = [("grant_type", "urn:ietf:params:oauth:grant-type:device_code")]
    poll += [("client_id", client.client_id), ("device_code", device_code)]
    if urls[2] == "v2":
        poll.append(("client_info", "1"))
    return code, codec.form_encode(poll), now + code.interval * PADDING
