"""Structured audit events on the ``deviceflow.audit`` logger.

One event per flow step: ``device_code_issued``, ``user_code_attempt``, ``user_code_lockout``,
``grant_approved`` / ``grant_denied``, ``tokens_redeemed``, ``redemption_replayed``,
``refresh_reuse``, ``slow_down``, ``unknown_device_code_lockout``, ``device_authorization_limit``,
``sign_in``, ``password_lockout``, ``client_secret_lockout``, ``token_revoked``,
``device_session_revoked`` (the "your devices" page or an admin); ``deviceflow admin``'s
``admin_user_added``, ``admin_user_disabled``, ``admin_user_enabled``,
``admin_user_password_set``, ``admin_user_deleted``, ``admin_client_added``,
``admin_client_disabled``, ``admin_client_deleted`` (with ``by``).
Codes and tokens appear only as short fingerprints of their keyed digests, never raw; passwords
never appear at all. The record's ``audit`` attribute carries the fields as a dict, and the
message renders them as sorted JSON, so any handler or formatter can pick either.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping

logger = logging.getLogger("deviceflow.audit")


class AuditLog:
    """Emits audit events; give it another logger to route them elsewhere.

    ``observer`` sees every event too, as it is written (the metrics recorder counts some).
    """

    def __init__(
        self,
        log: logging.Logger | None = None,
        *,
        observer: Callable[[str, Mapping[str, object]], None] | None = None,
    ) -> None:
        self._log = log or logger
        self._observer = observer

    def event(self, name: str, **fields: object) -> None:
        """Record event ``name`` with ``fields`` (which must hold no secrets)."""
        if self._observer is not None:
            self._observer(name, fields)
        payload = {"event": name, **fields}
        self._log.info(
            "%s %s", name, json.dumps(fields, sort_keys=True, default=str), extra={"audit": payload}
        )
