"""When to send the next request: the protocol's timing rules, as pure functions of numbers.

RFC 8628 §3.5 sets the floor: wait at least ``interval`` seconds between polls, and after
``slow_down`` add 5 s for the rest of the flow. The rest is client policy that every driver must
share, so it lives here and not in the drivers: padding for clock drift, capped exponential
back-off after transient faults (``Retry-After`` honoured), how often and how soon a failed
device authorization request is sent again, and how early a token is refreshed. Nothing here
reads a clock or sleeps: callers pass the numbers in and wait themselves.
"""

from ._codec import is_transient_status, parse_number

#: RFC 8628 §3.2: "If no value is provided, clients MUST use 5 as the default."
DEFAULT_INTERVAL = 5
#: Used when the server omits the REQUIRED ``expires_in`` (as MSAL does).
DEFAULT_EXPIRES_IN = 1800
#: RFC 8628 §3.5: "the interval MUST be increased by 5 seconds".
SLOW_DOWN_STEP = 5
#: Padding of every wait for clock drift, before and after the first ``slow_down``.
PADDING = 1.2
PADDING_AFTER_SLOW_DOWN = 1.4
#: The longest back-off between polls after transient failures (unless the interval is longer).
MAX_BACKOFF = 60.0
#: How many times a driver sends the device authorization request before giving up.
START_ATTEMPTS = 3
#: Refresh an access token this many seconds before it expires, so that it cannot expire on the
#: way to the resource server (``token.is_expired(now, leeway=REFRESH_MARGIN)``).
REFRESH_MARGIN = 60.0


def padded_wait(interval: float, slowed: bool) -> float:
    """Seconds from one response to the next poll: the interval padded for clock drift."""
    return interval * (PADDING_AFTER_SLOW_DOWN if slowed else PADDING)


def slowed_interval(interval: float, stated: object) -> float:
    """The interval after a ``slow_down`` answer that carried ``stated`` as its ``interval``.

    RFC 8628 §3.5: "the interval MUST be increased by 5 seconds for this and all subsequent
    requests." A larger interval sent with the error is honoured as well.
    """
    number = parse_number(stated)
    increased = interval + SLOW_DOWN_STEP
    if number is not None and number > increased:
        return int(number)
    return increased


def backoff(wait: float, failures: int, retry_after: "float | None") -> float:
    """Seconds before the next poll after ``failures`` transient faults in a row.

    RFC 8628 §3.5 leaves transport faults to the client; the checklist (§6.1) asks it to back
    off and keep polling until the code expires, never to fail at once. ``wait`` is the padded
    interval (:func:`padded_wait`); the delay doubles with each failure up to
    :data:`MAX_BACKOFF` (or the wait, when that is longer). A ``Retry-After`` wins when it asks
    for more than the wait.
    """
    if retry_after is not None:
        return max(retry_after, wait)
    return min(wait * 2.0 ** (failures - 1), max(wait, MAX_BACKOFF))


def is_transient(exc: BaseException) -> bool:
    """Whether retrying later may cure ``exc``.

    A transport error says so itself (its ``is_transient`` attribute: a timeout or a reset is, an
    untrusted certificate is not); an error built from a server's answer is transient when the
    status is 408, 429 or 5xx. Anything else (a refusal, a caller's mistake) is final.
    """
    flag = getattr(exc, "is_transient", None)
    if flag is not None:
        return bool(flag)
    status = getattr(exc, "status", None)
    return isinstance(status, int) and is_transient_status(status)


def start_retry_delay(exc: BaseException, attempt: int) -> "float | None":
    """Seconds to wait before sending the device authorization request again, or ``None``.

    Only faults that say nothing about the request itself are retried (:func:`is_transient`):
    nothing was shown to the user yet, so a new request loses nothing, while a refusal
    (``invalid_client``, ``invalid_scope``) is final at once. Attempt ``n`` that failed is followed
    by a wait of ``2 ** (n - 1)`` seconds (1 s, then 2 s), up to :data:`START_ATTEMPTS` attempts.

    Args:
        exc: why attempt number ``attempt`` (counted from 1) failed.
        attempt: how many requests were sent so far.

    Returns:
        The delay, or ``None`` when the caller should give up and raise ``exc``.
    """
    if attempt >= START_ATTEMPTS or not is_transient(exc):
        return None
    return float(2 ** (attempt - 1))
