"""When to send the next request: the protocol's timing rules, as pure functions of numbers.

RFC 8628 §3.5 sets the floor: wait at least ``interval`` seconds between polls, and after
``slow_down`` add 5 s for the rest of the flow. The rest is client policy that every driver must
share, so it lives here and not in the drivers: padding for clock drift, capped exponential
back-off after transient faults (``Retry-After`` honoured), how often and how soon a failed
device authorization request is sent again, and how early a token is refreshed. Nothing here
reads a clock or sleeps: callers pass the numbers in and wait themselves.

The two functions that need the codec import it when called: ``deviceflow token`` reads
:data:`REFRESH_MARGIN` from here and has no answer to decode.
"""

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
    from ._codec import parse_number

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
    if not isinstance(status, int):
        return False
    from ._codec import is_transient_status

    return is_transient_status(status)


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


#: ``deviceflow agent``'s default keepalive: refresh at least this often (seconds), so that a
#: provider's idle expiry (Entra: 90 days without use, AADSTS700082) never closes on a device.
KEEPALIVE = 86400.0
#: How much earlier than the keepalive a refresh may fall, as a fraction (the jitter keeps a fleet
#: of devices started together from refreshing in the same second).
KEEPALIVE_JITTER = 0.1
#: Refresh an access token when a quarter of its lifetime is left, but no earlier than this.
REFRESH_AHEAD = 300.0
#: Device codes sent in a row without an approval before re-linking backs off.
RELINK_FREE_CODES = 3
#: The first back-off after those codes, and the longest (seconds).
RELINK_BACKOFF = 900.0
RELINK_MAX_BACKOFF = 6 * 3600.0


def next_refresh_at(
    *,
    expires_at: "float | None",
    issued_at: float,
    last_refresh_at: float,
    keepalive: float,
    jitter: float,
) -> float:
    """When an agent refreshes next: ahead of access-token expiry, and at least every keepalive.

    Args:
        expires_at: the access token's expiry (``None``: unknown, only the keepalive counts).
        issued_at: when that access token was obtained (its lifetime is measured from there).
        last_refresh_at: the last refresh (or sign-in); the keepalive counts from it.
        keepalive: the longest gap between refreshes.
        jitter: a number in ``[0, 1)`` from the caller's randomness; it moves the keepalive
            earlier by up to :data:`KEEPALIVE_JITTER` of itself, never later.
    """
    due = last_refresh_at + keepalive * (1.0 - KEEPALIVE_JITTER * jitter)
    if expires_at is not None:
        ahead = min(REFRESH_AHEAD, max(0.0, expires_at - issued_at) / 4.0)
        due = min(due, expires_at - ahead)
    return due


def relink_delay(codes: int) -> float:
    """Seconds to wait before sending device code number ``codes + 1`` of one re-link.

    The first :data:`RELINK_FREE_CODES` follow each other at once (a code expired unseen: here
    is a fresh one); after that the wait doubles from :data:`RELINK_BACKOFF` up to
    :data:`RELINK_MAX_BACKOFF`, so that an owner away for a week gets a few messages, not
    hundreds.
    """
    if codes < RELINK_FREE_CODES:
        return 0.0
    return min(RELINK_BACKOFF * 2.0 ** (codes - RELINK_FREE_CODES), RELINK_MAX_BACKOFF)
