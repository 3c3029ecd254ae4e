"""The systemd notify protocol (sd_notify(3)): ``READY=1``, ``STATUS=...``, ``WATCHDOG=1``.

With ``Type=notify`` systemd passes ``NOTIFY_SOCKET`` (a path, or ``@name`` in the abstract
namespace) and, with ``WatchdogSec=``, ``WATCHDOG_USEC``: the service must send ``WATCHDOG=1``
more often than that or be restarted. Without ``NOTIFY_SOCKET`` every call does nothing, so the
agent runs the same under systemd, another supervisor or a terminal.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping

__all__ = ["SystemdNotifier"]


class SystemdNotifier:
    """Sends notify messages to the socket named by ``environ`` (nothing when there is none)."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        address = environ.get("NOTIFY_SOCKET", "")
        self._address = "\0" + address[1:] if address.startswith("@") else address
        usec = environ.get("WATCHDOG_USEC", "")
        #: Seconds between ``WATCHDOG=1`` pings (half the watchdog timeout), or ``None``.
        self.watchdog_interval = int(usec) / 2e6 if usec.isdigit() and int(usec) > 0 else None

    @property
    def enabled(self) -> bool:
        """Whether a notify socket was given."""
        return bool(self._address)

    def send(self, **fields: str) -> bool:
        """Send ``KEY=value`` lines (``send(READY="1", STATUS="...")``); return whether sent.

        A socket error (no listener, a full queue) is swallowed: a supervisor going away must
        not stop the agent.
        """
        if not self._address:
            return False
        text = "\n".join(f"{key}={value.replace(chr(10), ' ')}" for key, value in fields.items())
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.setblocking(False)  # a supervisor that stops reading must not stall us
                sock.sendto(text.encode(), self._address)
        except OSError:
            return False
        return True
