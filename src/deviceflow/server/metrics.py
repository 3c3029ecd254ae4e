"""What the server counts for Prometheus, and the one seam the grant engine reports through.

Theory of operation. The grant engine holds a :class:`Recorder` and tells it what happened, in
the engine's own words: a device authorization and its outcome, a token poll's outcome, a
refresh's outcome, and every audit event (:class:`~deviceflow.server.audit.AuditLog` hands each
one to the recorder as well). The engine never names a metric. With metrics off (the default)
the recorder is :data:`NO_METRICS`, whose methods do nothing, so a pending poll pays one empty
method call. With metrics on it is a :class:`PrometheusRecorder` (the ``metrics`` extra:
``prometheus_client``): every counter child whose labels are known up front is bound once, so a
poll costs a dictionary lookup and an increment.

Label values are bounded: outcomes come from fixed tables (an unknown one counts as ``other``),
tenants and clients only by the names the configuration gives them (anything else is
``unknown``), routes by their templates (``/{tenant}/oauth2/v2.0/token``; an unmatched path is
``other``). No user code, device code or raw path ever becomes a label. Each server instance
counts its own requests; the pending-flows gauge is read from storage at scrape time, so it is
the deployment's (every instance reports the same number).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["NO_METRICS", "POLL_OUTCOMES", "PrometheusRecorder", "Recorder", "poll_outcome"]

POLL_OUTCOMES = ("pending", "slow_down", "issued", "denied", "expired", "invalid")
"""The outcomes of ``deviceflow_token_polls_total``."""

_POLL_ERRORS = {"access_denied": "denied", "expired_token": "expired"}

INSTALL_HINT = "metrics need the metrics extra: pip install 'deviceflow[metrics]'"


def poll_outcome(error: str) -> str:
    """The poll outcome of a terminal error code (``access_denied`` -> ``denied``)."""
    return _POLL_ERRORS.get(error, "invalid")


class Recorder:
    """Receives what the grant engine did; this base records nothing (:data:`NO_METRICS`)."""

    enabled = False

    def device_authorization(self, tenant: str, client: str, outcome: str) -> None:
        """A device authorization request ended with ``outcome`` (``issued`` or a reason)."""

    def token_poll(self, outcome: str) -> None:
        """A device code poll was answered (one of :data:`POLL_OUTCOMES`)."""

    def refresh(self, outcome: str) -> None:
        """A refresh request ended with ``outcome`` (``issued`` or a reason)."""

    def audited(self, name: str, fields: Mapping[str, object]) -> None:
        """An audit event (``deviceflow.server.audit``) was written."""


NO_METRICS = Recorder()
"""The recorder of a server without metrics: every call does nothing."""


_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Request latency buckets, seconds: a pending poll takes well under a millisecond."""


class PrometheusRecorder(Recorder):
    """Counts into its own ``prometheus_client`` registry (one per app, never the global one).

    Args:
        tenants: The configured tenant ids (label values; others count as ``unknown``).
        clients: Whether a client id is configured (others count as ``unknown``).
        pending: Reads the number of pending flows from storage (called at scrape time).

    Raises:
        ImportError: ``prometheus_client`` is not installed (:data:`INSTALL_HINT`).
    """

    enabled = True

    def __init__(
        self,
        *,
        tenants: Callable[[str], bool],
        clients: Callable[[str], bool],
        pending: Callable[[], int],
    ) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry(auto_describe=True)
        self._is_tenant, self._is_client = tenants, clients
        reg = self.registry
        self._authorizations = Counter(
            "deviceflow_device_authorizations",
            "Device authorization requests, by tenant, client and outcome.",
            ["tenant", "client", "outcome"],
            registry=reg,
        )
        polls = Counter(
            "deviceflow_token_polls",
            "Device code polls of the token endpoint, by outcome.",
            ["outcome"],
            registry=reg,
        )
        self._polls = {outcome: polls.labels(outcome) for outcome in POLL_OUTCOMES}
        self._refreshes = Counter(
            "deviceflow_refreshes", "Refresh token requests, by outcome.", ["outcome"], registry=reg
        )
        self._approvals = Counter(
            "deviceflow_approvals", "Device requests approved on the pages.", registry=reg
        )
        self._denials = Counter(
            "deviceflow_denials", "Device requests denied on the pages.", registry=reg
        )
        self._wrong_codes = Counter(
            "deviceflow_wrong_user_codes",
            "User codes entered that match no request (guessing shows here first).",
            registry=reg,
        )
        self._alarms = Counter(
            "deviceflow_guessing_alarms",
            "Guessing alarms: wrong user codes from all addresses together passed"
            " rate_limits.guessing_alarm_failures within the window.",
            registry=reg,
        )
        self._sign_in_failures = Counter(
            "deviceflow_password_failures",
            "Password sign-ins refused, by reason (wrong_password, account_locked,"
            " address_locked, busy).",
            ["reason"],
            registry=reg,
        )
        gauge = Gauge(
            "deviceflow_pending_flows",
            "Device flows waiting for their user (pending and unexpired), in the whole"
            " deployment's storage.",
            registry=reg,
        )
        gauge.set_function(lambda: _or_nan(pending))
        self.latency = Histogram(
            "deviceflow_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template and status class.",
            ["route", "status"],
            buckets=_BUCKETS,
            registry=reg,
        )
        self._latency_children: dict[tuple[str, str], Any] = {}

    def _label(self, value: str, known: Callable[[str], bool]) -> str:
        return value if value and known(value) else "unknown"

    def device_authorization(self, tenant: str, client: str, outcome: str) -> None:
        labels = (
            self._label(tenant, self._is_tenant),
            self._label(client, self._is_client),
            outcome,
        )
        self._authorizations.labels(*labels).inc()

    def token_poll(self, outcome: str) -> None:
        child = self._polls.get(outcome)
        (child or self._polls["invalid"]).inc()

    def refresh(self, outcome: str) -> None:
        self._refreshes.labels(outcome).inc()

    def audited(self, name: str, fields: Mapping[str, object]) -> None:
        if name == "grant_approved":
            self._approvals.inc()
        elif name == "grant_denied":
            self._denials.inc()
        elif name == "user_code_attempt" and fields.get("result") == "unknown":
            self._wrong_codes.inc()
        elif name == "guessing_alarm":
            self._alarms.inc()
        elif name == "sign_in" and fields.get("result") is False:
            refused = fields.get("refused")
            self._sign_in_failures.labels(str(refused or "wrong_password")).inc()

    def observe_request(self, route: str, status: int, seconds: float) -> None:
        """One HTTP request's latency (``route``: a template or ``other``)."""
        key = (route, f"{status // 100}xx")
        child = self._latency_children.get(key)
        if child is None:
            child = self._latency_children[key] = self.latency.labels(*key)
        child.observe(seconds)

    def exposition(self) -> tuple[bytes, str]:
        """The metrics page: its body and content type (Prometheus text format)."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST


def _or_nan(read: Callable[[], int]) -> float:
    """``read()``, or NaN when storage cannot answer (the rest of the page is still served)."""
    try:
        return float(read())
    except Exception:  # whatever the database driver raises: /readyz says what is wrong
        return math.nan
