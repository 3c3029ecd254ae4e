"""The device flow's states and its one transition table.

Theory of operation: a :class:`~deviceflow.core.DeviceFlow` is always in exactly one of the states
below. Every method call and every event it produces is an *input*; :data:`TRANSITIONS` maps
``(state, input)`` to the next state, and a pair missing from the table is illegal: the flow
raises :class:`LocalProtocolError` and enters ``ERROR``. This table is the only place legal
transitions are written down; ``docs/core.md`` draws its diagram from it
(``scripts/state-diagram``).

States are plain strings (MicroPython has no ``enum``)::

    IDLE                  created; nothing sent yet
    AWAITING_DEVICE_CODE  start() returned the device authorization request (RFC 8628 §3.1)
    WAITING               holding a device code; the next poll is due at next_poll_at (§3.3)
    AWAITING_TOKEN        poll() returned a token request (§3.4)
    DONE                  a token was issued; the flow is over
    ERROR                 a terminal error was raised; every further call raises at once
"""

from ._errors import LocalProtocolError

IDLE = "IDLE"
AWAITING_DEVICE_CODE = "AWAITING_DEVICE_CODE"
WAITING = "WAITING"
AWAITING_TOKEN = "AWAITING_TOKEN"
DONE = "DONE"
ERROR = "ERROR"

STATES = (IDLE, AWAITING_DEVICE_CODE, WAITING, AWAITING_TOKEN, DONE, ERROR)

# Inputs: the caller's method calls, the events the flow returns, and a terminal error.
START = "start()"
POLL = "poll()"
TRANSPORT_FAILED = "transport_failed()"
DEVICE_CODE_ISSUED = "DeviceCodeIssued"
AUTHORIZATION_PENDING = "AuthorizationPending"
SLOW_DOWN = "SlowDown"
RETRYING = "Retrying"
TOKEN_ISSUED = "TokenIssued"
FAILED = "error raised"

TRANSITIONS = {
    (IDLE, START): AWAITING_DEVICE_CODE,
    (AWAITING_DEVICE_CODE, DEVICE_CODE_ISSUED): WAITING,
    (WAITING, POLL): AWAITING_TOKEN,
    (AWAITING_TOKEN, AUTHORIZATION_PENDING): WAITING,
    (AWAITING_TOKEN, SLOW_DOWN): WAITING,
    (AWAITING_TOKEN, RETRYING): WAITING,
    (AWAITING_TOKEN, TRANSPORT_FAILED): WAITING,
    (AWAITING_TOKEN, TOKEN_ISSUED): DONE,
    (IDLE, FAILED): ERROR,
    (AWAITING_DEVICE_CODE, FAILED): ERROR,
    (WAITING, FAILED): ERROR,
    (AWAITING_TOKEN, FAILED): ERROR,
    (DONE, FAILED): ERROR,
    (ERROR, FAILED): ERROR,
}


def next_state(state: str, event: str) -> str:
    """Return the state after ``event`` in ``state``.

    Raises:
        LocalProtocolError: the table has no such transition.
    """
    new = TRANSITIONS.get((state, event))
    if new is None:
        raise LocalProtocolError("cannot handle " + event + " in state " + state)
    return new
