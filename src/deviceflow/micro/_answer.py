"""Reading the answers of the OAuth endpoints, for :mod:`._device` and :mod:`._grant`.

Kept apart from both so that asking for a device code does not load the polling and the refresh,
nor polling the device code's reading: each phase holds only what it runs.
"""

from deviceflow.core import _codec as codec
from deviceflow.core._errors import RemoteProtocolError

#: The headers of every form sent to an OAuth endpoint.
FORM = [("Accept", "application/json"), ("Content-Type", "application/x-www-form-urlencoded")]
#: Every wait is the interval times this (clock drift); 1.4 once the server has said slow_down.
PADDING = 1.2


def as_object(response):
    """The answer as a dict, or ``None`` when it is not a JSON object."""
    body = response.body
    if isinstance(body, bytes):  # not labelled JSON: maybe JSON all the same
        return codec.try_decode_json_object(response)
    return body if isinstance(body, dict) else None


def answer(response, what):
    """The body of a successful answer, or the core's typed error for the others."""
    status = response.status
    obj = as_object(response)
    if obj is None:
        if isinstance(response.body, bytes):
            codec.decode_json_object(response, what)  # raises, quoting a snippet of the body
        raise RemoteProtocolError(what + " is not a JSON object", status=status)
    code = codec.error_code(obj)
    if code is not None and "access_token" not in obj:
        raise codec.oauth_error(obj, code, status)
    if not codec.is_success(status):
        raise RemoteProtocolError(what + " has no 'error' member", status=status)
    return obj
