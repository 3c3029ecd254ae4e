"""``deviceflow agent``: keep a profile signed in for months, re-link it without a screen.

Theory of operation. The agent runs in the foreground, as a service manager expects, and loops:

1. Load the profile. Plan the next refresh (the first one at once, to find a refresh token that
   died while the agent was stopped) (:func:`deviceflow.core._timing.next_refresh_at`):
   then ahead of the access token's expiry, and at least every ``--keepalive`` seconds (jittered
   earlier) counted from the last refresh by anyone, so a provider's idle-expiry window (Entra:
   90 days, AADSTS700082) never closes. ``deviceflow token`` refreshing meanwhile moves the plan.
2. Wait for it, pinging the systemd watchdog; SIGTERM or SIGINT ends the wait and the agent.
3. Refresh through :class:`~deviceflow.cli.tokens.TokenManager`, under the profile's lock that
   ``deviceflow token`` takes too: never two refreshes at once, and the rotated refresh token is
   saved (atomically) before the lock is released, so a SIGKILL loses nothing. Transient failures
   (network, 5xx) are retried with back-off.
4. A refresh refused for good (``invalid_grant``: idle expiry, revoked sessions, sign-in frequency,
   MFA ...) starts a re-link: a device flow whose code goes to every notifier
   (:mod:`deviceflow.cli.notify`), a fresh code each time one expires unused, backing off after
   a few (:func:`deviceflow.core._timing.relink_delay`), until someone approves; then the tokens
   are saved, ``relinked`` is announced and the loop resumes.

Every line it logs goes to stderr as plain text, without tokens or device codes.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from deviceflow.cli.diagnoses import explain
from deviceflow.cli.errors import SignInRequiredError, UsageError
from deviceflow.cli.notify import Notice, Notifier, build_notifiers, deliver
from deviceflow.cli.sdnotify import SystemdNotifier
from deviceflow.cli.state import AgentLock, ProfileState, agent_pid, iso_time
from deviceflow.cli.tokens import TokenManager, endpoints_of
from deviceflow.core._timing import KEEPALIVE, backoff, is_transient, next_refresh_at, relink_delay

if TYPE_CHECKING:
    from deviceflow.cache.base import CacheEntry
    from deviceflow.cli.context import Context
    from deviceflow.client import DeviceFlowClient
    from deviceflow.core import Token

__all__ = ["Agent", "AgentOptions", "agent"]

#: Longest wait between two looks at the cache (another process may sign in or refresh).
_LOOK_AGAIN = 300.0
#: The first wait after a transient refresh failure.
_RETRY_WAIT = 5.0


@dataclass(frozen=True)
class AgentOptions:
    """``agent`` flags beyond the shared settings."""

    keepalive: float = KEEPALIVE


class Agent:
    """One agent on one profile.

    Args:
        ctx: the run's context (settings, world).
        options: the agent's flags.
        notifiers: where codes and events go.
        wait: waits up to the given seconds; returns ``True`` once the agent must stop (default:
            on an event that SIGTERM/SIGINT set). Tests pass a function that moves a clock.
        jitter: a number in ``[0, 1)`` per planned refresh (default: :func:`random.random`).
    """

    def __init__(
        self,
        ctx: Context,
        options: AgentOptions,
        notifiers: list[Notifier],
        *,
        wait: Callable[[float], bool] | None = None,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.ctx = ctx
        self.options = options
        self.notifiers = notifiers
        self.stop_event = threading.Event()
        self._wait = wait or self.stop_event.wait
        self._jitter = jitter
        s = ctx.settings
        self.profile = s.profile
        self.cache = ctx.cache()
        self.state = ProfileState(s.cache_dir, s.profile, writer="agent")
        self.manager = TokenManager(
            self.cache, s.profile, transport=ctx.transport, clock=ctx.world.clock, state=self.state
        )
        self.systemd = SystemdNotifier(ctx.world.environ)
        self.failures = 0
        self.relinks = 0
        #: Refresh at the next turn whatever the plan: at start (a refresh token that died while
        #: the agent was stopped is found at once) and after a failed attempt's back-off.
        self.refresh_now = True
        self._planned: tuple[float, float] | None = None  # (last refresh it was planned from, due)

    # -- plumbing ---------------------------------------------------------------------------

    def log(self, text: str) -> None:
        """One plain line on stderr."""
        self.ctx.say(f"deviceflow agent [{self.profile}]: {text}")

    @property
    def stopped(self) -> bool:
        """Whether SIGTERM (or the test's wait) asked the agent to stop."""
        return self.stop_event.is_set()

    def sleep(self, seconds: float) -> bool:
        """Wait ``seconds`` in watchdog-sized steps; return whether the agent must stop."""
        clock = self.ctx.world.clock
        deadline = clock() + max(0.0, seconds)
        while not self.stopped:
            left = deadline - clock()
            if left <= 0:
                return False
            step = min(left, self.systemd.watchdog_interval or left)
            if self._wait(step):
                self.stop_event.set()
            self.systemd.send(WATCHDOG="1")
        return True

    def announce(self, notice: Notice) -> None:
        """Send ``notice`` to every notifier (failures are logged, never raised)."""
        if self.notifiers:
            sent = deliver(self.notifiers, notice, self.log)
            self.log(f"{notice.event} sent through {sent} of {len(self.notifiers)} notifier(s)")

    # -- the loop ---------------------------------------------------------------------------

    def run(self) -> int:
        """Run until stopped; return the exit code (0).

        Raises:
            UsageError: another agent runs on the profile.
        """
        s = self.ctx.settings
        self.cache.profiles()  # checks the directory's permissions, creates nothing
        os.makedirs(s.cache_dir, mode=0o700, exist_ok=True)
        lock = AgentLock(s.cache_dir, s.profile)
        try:
            lock.acquire()
        except BlockingIOError:
            pid = agent_pid(s.cache_dir, s.profile)
            raise UsageError(
                f"an agent already runs on profile {s.profile!r} (pid {pid}); stop it first"
            ) from None
        try:
            self.log(f"started (keepalive {self.options.keepalive:g} s)")
            self.systemd.send(READY="1", STATUS="keeping the sign-in fresh")
            while not self.stopped:
                self.step()
            self.systemd.send(STOPPING="1")
            self.log("stopped")
        finally:
            lock.release()
        return 0

    def step(self) -> None:
        """One turn of the loop: refresh when due, else wait; re-link when refused for good."""
        entry = self.cache.load(self.profile)
        if entry is None or not entry.refresh_token:
            self.relink(entry, "nobody is signed in" if entry is None else "no refresh token")
            return
        now = self.ctx.world.clock()
        due = self.plan(entry)
        if self.refresh_now:
            self.refresh_now, due = False, now
        if now < due:
            self.systemd.send(STATUS=f"next refresh at {iso_time(due)}")
            self.sleep(min(due - now, _LOOK_AGAIN))
            return
        try:
            self.manager.access_token(force_refresh=True)
        except SignInRequiredError as exc:
            self.relink(entry, _plain(exc))
            return
        except Exception as exc:
            self.failures += 1
            if is_transient(exc):
                wait = backoff(_RETRY_WAIT, self.failures, getattr(exc, "retry_after", None))
            else:
                wait = relink_delay(self.failures + 2)  # a refusal that waiting may not cure
            self.log(f"refresh failed ({exc}); trying again in {wait:.0f} s")
            self.systemd.send(STATUS=f"refresh failed; retrying in {wait:.0f} s")
            self.sleep(wait)
            self.refresh_now = True
            return
        self.failures = 0
        entry = self.cache.load(self.profile) or entry
        expires = entry.access_tokens[0].expires_at if entry.access_tokens else None
        self.log(
            "refreshed" + (f"; access token valid until {iso_time(expires)}" if expires else "")
        )

    def plan(self, entry: CacheEntry) -> float:
        """When the next refresh is due (see the module docstring); recorded in the state."""
        state = self.state.read()
        last = state["last_refresh_at"] or state["signed_in_at"] or entry.updated_at
        if self._planned is None or self._planned[0] != last:
            expires = entry.access_tokens[0].expires_at if entry.access_tokens else None
            due = next_refresh_at(
                expires_at=expires,
                issued_at=last,
                last_refresh_at=last,
                keepalive=self.options.keepalive,
                jitter=self._jitter(),
            )
            self._planned = (last, due)
            with self.cache.lock(self.profile):
                self.state.update(next_refresh_at=due)
        return self._planned[1]

    # -- re-linking ---------------------------------------------------------------------------

    def flow_client(self, entry: CacheEntry | None) -> DeviceFlowClient:
        """A device-flow client for the profile's app (else for the settings' one)."""
        from deviceflow.client import DeviceFlowClient

        world = self.ctx.world
        if entry is None:
            from deviceflow.cli.login import make_client

            return make_client(self.ctx)
        return DeviceFlowClient(
            entry.client_id,
            endpoints=endpoints_of(entry),
            transport=self.ctx.transport,
            clock=world.monotonic,
            sleep=self._client_sleep,
            wall_clock=world.clock,
        )

    def _client_sleep(self, seconds: float) -> None:
        self.sleep(seconds)  # a stop is noticed by the client's should_cancel

    def relink(self, entry: CacheEntry | None, why: str) -> None:
        """Sign in again with a device flow, delivering each code to the notifiers."""
        from deviceflow.errors import (
            AccessDeniedError,
            DeviceFlowError,
            ExpiredTokenError,
            FlowCancelledError,
        )

        self.log(f"a new sign-in is needed ({why}); starting a device flow")
        self.systemd.send(STATUS="waiting for someone to approve a sign-in")
        settings = self.ctx.settings
        resource = entry.resource if entry is not None else settings.resource
        scopes = () if resource else (entry.scopes if entry is not None else settings.scopes)
        codes = 0
        while not self.stopped:
            delay = relink_delay(codes)
            if delay:
                self.log(f"no approval after {codes} codes; the next one in {delay:.0f} s")
                if self.sleep(delay):
                    return
            client = self.flow_client(entry)
            try:
                issued = client.start(scopes, resource=resource)
            except DeviceFlowError as exc:
                codes += 1
                self._relink_failed(exc, "could not start a sign-in")
                continue
            codes += 1
            expires_at = self.ctx.world.clock() + (issued.expires_at - client.clock())
            self.log(
                f"to sign in, open {issued.verification_uri} and enter the code"
                f" {issued.user_code} (valid until {iso_time(expires_at)})"
            )
            self.announce(
                Notice(
                    "code",
                    self.profile,
                    user_code=issued.user_code,
                    verification_uri=issued.verification_uri,
                    verification_uri_complete=issued.verification_uri_complete or "",
                    expires_at=iso_time(expires_at),
                )
            )
            try:
                token = client.wait(issued, should_cancel=lambda: self.stopped)
            except FlowCancelledError:
                return
            except ExpiredTokenError:
                self.log("the code expired unused")
                continue
            except (AccessDeniedError, DeviceFlowError) as exc:
                self._relink_failed(exc, "the sign-in failed")
                continue
            self._save(client, token, scopes, resource)
            return

    def _relink_failed(self, exc: BaseException, what: str) -> None:
        from deviceflow.cli.state import error_record

        reason = f"{what}: {_plain(exc)}"
        self.log(reason)
        with self.cache.lock(self.profile):
            self.state.update(
                last_error=error_record(exc, at=self.ctx.world.clock(), source=self.state.writer)
            )
        self.announce(Notice("error", self.profile, reason=reason))

    def _save(
        self,
        client: DeviceFlowClient,
        token: Token,
        scopes: tuple[str, ...],
        resource: str | None,
    ) -> None:
        from deviceflow.cli.login import store_sign_in

        now = self.ctx.world.clock()
        fresh = store_sign_in(
            self.ctx, self.cache, client, token, scopes, resource, relinked_at=now
        )
        self.relinks += 1
        self._planned = None
        self.log(f"relinked as {fresh.account.label()}")
        self.systemd.send(STATUS="relinked; keeping the sign-in fresh")
        self.announce(Notice("relinked", self.profile))


def _plain(exc: BaseException) -> str:
    """A plain reason for ``exc``: the diagnosis title when the error is known."""
    cause = exc.__cause__ if isinstance(exc, SignInRequiredError) else exc
    row = explain(getattr(cause, "error", None), getattr(cause, "error_codes", ()))
    code = getattr(cause, "error", None)
    if row is not None:
        return f"{row.title} ({row.key})" if row.key != code else f"{row.title} ({code})"
    return str(exc)


def agent(ctx: Context, args: argparse.Namespace) -> int:
    """``deviceflow agent``: run until SIGTERM (see the module docstring).

    Raises:
        UsageError: bad flags or notifier targets, or an agent already runs on the profile.
    """
    keepalive = float(args.keepalive)
    if keepalive <= 0:
        raise UsageError("--keepalive must be a positive number of seconds")
    notifiers = build_notifiers(
        ctx.settings.notify,
        environ=ctx.world.environ,
        transport=ctx.transport,
        sleep=ctx.world.sleep,
        smtp=ctx.settings.smtp,
    )
    runner = Agent(ctx, AgentOptions(keepalive=keepalive), notifiers)

    def on_signal(signum: int, frame: object) -> None:
        runner.stop_event.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        return runner.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
