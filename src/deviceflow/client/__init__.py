"""DeviceFlowClient and AsyncDeviceFlowClient: drive the sans-I/O core with a transport and a clock.

Theory of operation. The core (:class:`deviceflow.core.DeviceFlow`) decides everything about the
protocol: which request to send, what a response means, and when the next poll is due
(``next_poll_at``: the interval, ``slow_down``'s +5 s, ``Retry-After``, capped exponential
back-off after transient faults, padding for clock drift, never past ``expires_at``), and also
whether and when a failed device authorization request is sent again
(:func:`deviceflow.core.start_retry_delay`) and which metadata URL to try next
(:class:`deviceflow.core.Discovery`). A driver only does the I/O: it sends the request through the
transport, sleeps until the deadline the core gave it, and turns transport faults into
``flow.transport_failed(...)`` so that a refused or dropped connection, a timeout, an HTTP 5xx or a
429 is retried rather than fatal (RFC 8628 §3.5: "the client SHOULD ... reduce its polling
frequency" after a connection timeout).

Two clocks are involved: waits are measured on a monotonic clock (``clock``, default
:func:`time.monotonic`) so that a wall-clock jump cannot shorten or stretch them; the token handed
back is re-based on the wall clock (``wall_clock``, default :func:`time.time`) so that
``token.expires_at`` is an epoch time that can be stored. Times in :class:`DeviceCodeIssued` and
the pending events are on the monotonic clock: use ``issued.expires_at - client.clock()`` for the
time left.

Layout: :mod:`._async` holds :class:`AsyncDeviceFlowClient`, written by hand; :mod:`._sync` holds
:class:`DeviceFlowClient`, generated from it by ``scripts/unasync.py`` (``scripts/lint`` checks
that it is up to date); :mod:`._base` holds what both share without I/O.
"""

from deviceflow.core import START_ATTEMPTS
from deviceflow.errors import FlowCancelledError  # what should_cancel leads to

from ._async import AsyncDeviceFlowClient
from ._base import DEFAULT_AUTHORITY, DEFAULT_TIMEOUT, PendingEvent
from ._sync import DeviceFlowClient

__all__ = [
    "DEFAULT_AUTHORITY",
    "DEFAULT_TIMEOUT",
    "START_ATTEMPTS",
    "AsyncDeviceFlowClient",
    "DeviceFlowClient",
    "FlowCancelledError",
    "PendingEvent",
]

# Documented (and pickled, and shown in reprs) where users import them from.
AsyncDeviceFlowClient.__module__ = DeviceFlowClient.__module__ = __name__
