"""``deviceflow login``: run the device flow, show the code, save the tokens.

Output goes through a display. On a terminal, :class:`HumanDisplay` prints the panel once and then
rewrites one status line (time left, poll state) several times a second; off a terminal it prints
the plain ``key: value`` block once. With ``--json``, :class:`JsonDisplay` writes one JSON object
per line to stdout (``code``, ``pending``, ``slow_down``, ``retrying``, then ``signed_in`` or
``error``) for another program to render, and the human display moves to stderr.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from deviceflow.cache.base import Account, CacheEntry
from deviceflow.cli.context import Context
from deviceflow.cli.errors import ExpiredError, UsageError
from deviceflow.cli.panel import (
    LoginScreen,
    PollStatus,
    render_panel,
    render_plain,
    render_qr,
    render_status,
)
from deviceflow.cli.state import ProfileState, error_record

if TYPE_CHECKING:
    from collections.abc import Sequence

    from deviceflow.cache.base import TokenCache
    from deviceflow.client import DeviceFlowClient, PendingEvent
    from deviceflow.core import DeviceCodeIssued, Token

__all__ = [
    "HumanDisplay",
    "JsonDisplay",
    "LoginOptions",
    "error_fields",
    "run_login",
    "store_sign_in",
]

_CLEAR_LINE = "\r\x1b[2K"


@dataclass(frozen=True)
class LoginOptions:
    """``login`` flags beyond the shared settings."""

    json: bool = False
    qr: bool | None = None
    qr_invert: bool = False
    qr_file: Path | None = None
    timeout: float | None = None
    open: bool = False
    clipboard: bool = False


def _can_encode(stream: TextIO, text: str) -> bool:
    try:
        text.encode(getattr(stream, "encoding", None) or "ascii")
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class HumanDisplay:
    """The panel for a person (see the module docstring)."""

    def __init__(self, stream: TextIO, *, live: bool, show_qr: bool, invert: bool) -> None:
        self.stream = stream
        self.live = live
        self.show_qr = show_qr
        self.invert = invert
        self.screen: LoginScreen | None = None
        self.status = PollStatus()
        self._last_line = ""

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()

    def qr_lines(self, screen: LoginScreen) -> tuple[list[str], str | None]:
        """The QR code lines for ``screen`` (or none, with a note saying why)."""
        if not self.show_qr:
            return [], None
        from deviceflow.cli.qr import QrUnavailableError, qr_matrix

        try:
            matrix = qr_matrix(screen.qr_target)
        except QrUnavailableError as exc:
            return [], str(exc)
        style = "unicode" if _can_encode(self.stream, "\u2580\u2584\u2588") else "ascii"
        return render_qr(matrix, style=style, invert=self.invert), None

    def code(self, screen: LoginScreen, now: float) -> None:
        """Show the code, URLs and QR code."""
        self.screen = screen
        self.status = PollStatus(interval=screen.interval)
        qr, note = self.qr_lines(screen)
        if self.live:
            width = min(shutil.get_terminal_size((80, 24)).columns, 100)
            self._write(render_panel(screen, qr=qr, qr_note=note, width=width))
            self.tick(now)
        else:
            text = render_plain(screen, now=now, qr=qr)
            if note:
                text += f"note: {note}\n"
            self._write(text)

    def pending(self, status: PollStatus, now: float) -> None:
        """The poll state changed."""
        self.status = status
        self.tick(now)

    def tick(self, now: float) -> None:
        """Redraw the live status line if its text changed (terminal only)."""
        if not self.live or self.screen is None:
            return
        line = render_status(self.screen, self.status, now=now)
        if line != self._last_line:
            self._last_line = line
            self._write(_CLEAR_LINE + line)

    def finish(self) -> None:
        """End the live status line, before other output."""
        if self.live and self._last_line:
            self._write("\n")
            self._last_line = ""

    def signed_in(self, account: Account, expires_on: int) -> None:
        """Report success."""
        self.finish()
        self._write(f"Signed in as {account.label()}.\n")

    def failed(self, error: str, description: str) -> None:
        """Report failure (the top-level handler prints the message itself)."""
        self.finish()


class JsonDisplay:
    """JSON events on ``out``; the human display (on stderr) is kept in step."""

    def __init__(self, out: TextIO, human: HumanDisplay) -> None:
        self.out = out
        self.human = human

    def emit(self, event: str, **fields: Any) -> None:
        """Write one event line."""
        self.out.write(json.dumps({"event": event, **fields}) + "\n")
        self.out.flush()

    def code(self, screen: LoginScreen, now: float) -> None:
        self.emit(
            "code",
            user_code=screen.user_code,
            verification_uri=screen.verification_uri,
            verification_uri_complete=screen.verification_uri_complete,
            expires_in=max(0, int(screen.expires_at - now)),
            interval=screen.interval,
            message=screen.message,
        )
        self.human.code(screen, now)

    def pending(self, status: PollStatus, now: float) -> None:
        if status.state == "slow_down":
            self.emit("slow_down", interval=status.interval)
        elif status.state == "retrying":
            self.emit("retrying", attempt=status.attempt, reason=status.reason)
        else:
            self.emit("pending", interval=status.interval)
        self.human.pending(status, now)

    def tick(self, now: float) -> None:
        self.human.tick(now)

    def signed_in(self, account: Account, expires_on: int) -> None:
        self.emit("signed_in", name=account.name, username=account.username, expires_on=expires_on)
        self.human.signed_in(account, expires_on)

    def failed(self, error: str, description: str) -> None:
        self.emit("error", error=error, description=description)
        self.human.failed(error, description)


Display = HumanDisplay | JsonDisplay


def status_from_event(event: PendingEvent, interval: float) -> PollStatus:
    """The :class:`PollStatus` a client pending event stands for."""
    from deviceflow.core import Retrying, SlowDown

    if isinstance(event, SlowDown):
        return PollStatus(state="slow_down", interval=event.interval)
    if isinstance(event, Retrying):
        return PollStatus(
            state="retrying", interval=interval, attempt=event.attempt, reason=event.reason
        )
    return PollStatus(state="pending", interval=interval)


def error_fields(exc: BaseException) -> tuple[str, str]:
    """``(error, description)`` for the ``error`` JSON event."""
    from deviceflow import errors

    if isinstance(exc, KeyboardInterrupt):
        return "interrupted", "interrupted"
    if isinstance(exc, errors.OAuthError):
        return exc.error, exc.description or str(exc)
    if isinstance(exc, ExpiredError):
        return "timeout", str(exc)
    if isinstance(exc, errors.TransportError):
        return "network_error", str(exc)
    if isinstance(exc, errors.RemoteProtocolError):
        return "protocol_error", str(exc)
    return "error", str(exc) or type(exc).__name__


def make_client(ctx: Context) -> DeviceFlowClient:
    """A client for the settings' authority or issuer.

    Raises:
        UsageError: no client id, or a malformed authority.
    """
    from deviceflow.client import DeviceFlowClient
    from deviceflow.core import microsoft_endpoints

    s, world = ctx.settings, ctx.world
    if not s.client_id:
        raise UsageError(
            "login needs a client id: pass --client-id ID "
            "(or set DEVICEFLOW_CLIENT_ID, or client_id in the config file)"
        )
    common: dict[str, Any] = {
        "transport": ctx.transport,
        "clock": world.monotonic,
        "sleep": world.sleep,
        "wall_clock": world.clock,
    }
    if s.issuer:
        return DeviceFlowClient(s.client_id, issuer=s.issuer, **common)
    try:
        endpoints = microsoft_endpoints(
            s.tenant, authority=s.authority, version="v1" if s.resource else "v2.0"
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    return DeviceFlowClient(s.client_id, endpoints=endpoints, **common)


def run_login(ctx: Context, options: LoginOptions, *, again: str | None = None) -> CacheEntry:
    """Sign in and save the tokens in the profile; return the new cache entry.

    ``again`` is the command a message suggests after ``--timeout`` (default: the login itself,
    with the flags it still needs).

    Raises:
        UsageError: missing client id or bad flags.
        ExpiredError: ``--timeout`` passed first.
        DeviceFlowError: the flow failed (denied, expired, network, protocol).
    """
    world = ctx.world
    human_stream = world.stderr if options.json else world.stdout
    live = _isatty(human_stream)
    human = HumanDisplay(
        human_stream,
        live=live,
        show_qr=options.qr if options.qr is not None else live,
        invert=options.qr_invert,
    )
    display: Display = JsonDisplay(world.stdout, human) if options.json else human
    try:
        check_options(options)  # before any network call
        return _sign_in(ctx, options, display, again)
    except BaseException as exc:
        display.failed(*error_fields(exc))
        _record_failure(ctx, exc)
        raise


def _record_failure(ctx: Context, exc: BaseException) -> None:
    """Keep a refused sign-in (denied, expired, a policy) for ``status`` and ``doctor``."""
    from deviceflow.errors import DeviceFlowError

    if isinstance(exc, DeviceFlowError) and os.path.isdir(ctx.settings.cache_dir):
        # Without the profile's lock: a failed sign-in touched no token, and the write is atomic.
        state = ProfileState(ctx.settings.cache_dir, ctx.settings.profile, writer="login")
        state.update(last_error=error_record(exc, at=ctx.world.clock(), source=state.writer))


def check_options(options: LoginOptions) -> None:
    """Refuse flags that cannot work, before a code is requested.

    Raises:
        UsageError: ``--qr-file`` names no ``.png``/``.svg`` file, a missing folder, or needs the
            ``qr`` extra; ``--timeout`` is not positive.
    """
    if options.timeout is not None and not options.timeout > 0:
        raise UsageError(f"--timeout must be a positive number of seconds, not {options.timeout:g}")
    path = options.qr_file
    if path is None:
        return
    if path.suffix.lower() not in (".png", ".svg"):
        raise UsageError(f"--qr-file must end in .png or .svg, not {path.name!r}")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise UsageError(f"--qr-file {path}: the folder {folder} does not exist")
    from deviceflow.cli.qr import INSTALL_HINT, QrUnavailableError, qr_matrix

    try:
        qr_matrix("check")
    except QrUnavailableError:
        raise UsageError(f"--qr-file needs the qr extra. {INSTALL_HINT}") from None


def _hand_off(ctx: Context, options: LoginOptions, screen: LoginScreen) -> None:
    """``--open`` and ``--clipboard`` (each says in one line what it did)."""
    from deviceflow.cli.handoff import copy_to_clipboard, open_browser

    if options.open:
        ctx.say(open_browser(screen.qr_target, ctx.world.environ))
    if options.clipboard:
        ctx.say(copy_to_clipboard(screen.user_code, ctx.world.environ))


def _sign_in(
    ctx: Context, options: LoginOptions, display: Display, again: str | None
) -> CacheEntry:
    from deviceflow.cli.settings import remembered_values
    from deviceflow.errors import FlowCancelledError

    s = ctx.settings
    cache = ctx.cache()  # refuses an unusable keyring before the user signs in
    client = make_client(ctx)
    scopes = () if s.resource else s.scopes
    issued = client.start(scopes, resource=s.resource)
    screen = _screen(issued)
    if options.qr_file is not None:
        from deviceflow.cli.qr import save_qr

        save_qr(screen.qr_target, options.qr_file)
    _hand_off(ctx, options, screen)
    started = client.clock()
    display.code(screen, started)

    def should_cancel() -> bool:
        now = client.clock()
        display.tick(now)
        return options.timeout is not None and now - started >= options.timeout

    interval = screen.interval

    def on_pending(event: PendingEvent) -> None:
        nonlocal interval
        status = status_from_event(event, interval)
        interval = status.interval
        display.pending(status, client.clock())

    try:
        token = client.wait(issued, on_pending=on_pending, should_cancel=should_cancel)
    except FlowCancelledError as exc:
        if again is None:
            from deviceflow.cli.hints import login_command

            again = login_command(ctx)
        raise ExpiredError(
            f"nobody approved the sign-in within --timeout {options.timeout:g} s. Try again"
            f" (and approve it sooner, or give a longer --timeout): {again}"
        ) from exc
    entry = store_sign_in(
        ctx, cache, client, token, scopes, s.resource, settings=remembered_values(s)
    )
    expires_on = int(entry.access_tokens[0].expires_at)
    display.signed_in(entry.account, expires_on)
    return entry


def store_sign_in(
    ctx: Context,
    cache: TokenCache,
    client: DeviceFlowClient,
    token: Token,
    scopes: Sequence[str],
    resource: str | None,
    **state: Any,
) -> CacheEntry:
    """Save a new sign-in in the profile (under its lock) and start its state afresh.

    ``state`` adds fields to the profile's state (the agent's ``relinked_at``). Returns the entry.

    Raises:
        CacheError: the cache cannot be written.
    """
    from deviceflow.cli.tokens import new_entry

    assert client.endpoints is not None
    profile, now = ctx.settings.profile, ctx.world.clock()
    entry = new_entry(
        token,
        client_id=client.client_id,
        endpoints=client.endpoints,
        scopes=scopes,
        resource=resource,
        now=now,
    )
    with cache.lock(profile):
        cache.save(profile, entry)
        ProfileState(ctx.settings.cache_dir, profile).update(
            signed_in_at=now, refresh_token_at=now, last_refresh_at=None, last_error=None, **state
        )
    return entry


def _screen(issued: DeviceCodeIssued) -> LoginScreen:
    from dataclasses import fields

    # What the panel shows is the event's attributes of the same names.
    return LoginScreen(**{field.name: getattr(issued, field.name) for field in fields(LoginScreen)})
