"""Next steps: every failure a person can fix ends with the command that fixes it.

:func:`login_command` spells ``deviceflow login`` with exactly the flags it still needs: the ones
given on this command line that the profile does not remember yet (a failed first sign-in), and
``--client-id ID`` when no client id is known anywhere. After a successful login the profile
remembers its settings (:mod:`deviceflow.cli.state`), so the hint is plain ``deviceflow login``.

:func:`next_step` turns the library's errors that reach the top level into :class:`CliError` s
whose message says what happened in plain words, then what to run; the server's own codes (error,
AADSTS numbers, trace and correlation ids) move to a second line for support, not the first.
A suggested command always ends its line (after ``: ``), so it can be copied as it is.
"""

from __future__ import annotations

import re
import shlex
from typing import TYPE_CHECKING

from deviceflow.cli.errors import (
    CliError,
    DeniedError,
    ExpiredError,
    SignInRequiredError,
    exit_code_for,
)

if TYPE_CHECKING:
    from deviceflow.cli.context import Context
    from deviceflow.errors import OAuthError

__all__ = ["login_command", "next_step", "server_details", "short_description"]

#: Settings ``login`` remembers, by argparse destination -> flag.
_LOGIN_FLAGS = (
    ("client_id", "--client-id"),
    ("authority", "--authority"),
    ("tenant", "--tenant"),
    ("issuer", "--issuer"),
    ("resource", "--resource"),
    ("graph_url", "--graph-url"),
)


def login_command(ctx: Context, *, scopes: tuple[str, ...] | None = None) -> str:
    """The ``deviceflow login ...`` command that signs this profile in (see the module docstring).

    Args:
        ctx: the run's context (its flags and settings).
        scopes: ask for these scopes (e.g. the current ones plus one Graph asked for).
    """
    from deviceflow.cli.settings import remembered_values
    from deviceflow.cli.state import remembered

    s, flags = ctx.settings, ctx.flags
    known = remembered(s.cache_dir, s.profile)
    now = remembered_values(s)
    words = ["deviceflow", "login"]
    if flags.get("profile"):
        words += ["--profile", s.profile]
    if flags.get("cache"):
        words += ["--cache", str(flags["cache"])]
    for key, option in _LOGIN_FLAGS:  # as typed, unless the profile remembers the same already
        # --authority may carry the tenant: it is needed when either differs.
        compared = ("authority", "tenant") if key == "authority" else (key,)
        if flags.get(key) and any(known.get(k) != now.get(k) for k in compared):
            words += [option, str(flags[key])]
    if scopes is not None:
        words += ["--scope", " ".join(scopes)]
    elif flags.get("scope") and known.get("scope") != now.get("scope"):
        words += ["--scope", str(now["scope"])]
    if not s.client_id:
        return shlex.join(words) + " --client-id ID"
    return shlex.join(words)


_REFERENCES = re.compile(r"\s+Trace ID:")


def short_description(exc: OAuthError) -> str:
    """The server's description without its reference lines and ``AADSTSnnn:`` prefix."""
    text = (exc.description or "").replace("\r\n", "\n").split("\n", 1)[0]
    text = _REFERENCES.split(text, 1)[0].strip()  # Entra's "Trace ID: ..." tail
    head, sep, rest = text.partition(": ")
    if sep and head.startswith("AADSTS") and head[6:].isdigit():
        text = rest
    return text


def server_details(exc: OAuthError) -> str:
    """``server said: error AADSTSnnn: description; trace ID ...; correlation ID ...`` (what
    support asks for)."""
    text = " ".join([exc.error, *(f"AADSTS{code}" for code in exc.error_codes)])
    description = short_description(exc).rstrip(" .")
    if description:
        text += f": {description}"
    raw = exc.raw or {}
    for key, label in (("trace_id", "trace ID"), ("correlation_id", "correlation ID")):
        value = raw.get(key)
        if isinstance(value, str) and value:
            text += f"; {label} {value}"
    return f"server said: {text}"


def next_step(ctx: Context, exc: BaseException, command: str) -> CliError | None:
    """A :class:`CliError` for ``exc`` that names the next step, or ``None`` to keep ``exc``.

    Args:
        ctx: the run's context.
        exc: what the command raised.
        command: the command's name (``login``, ``me``, ...).
    """
    from deviceflow import errors
    from deviceflow.cli.diagnoses import explain
    from deviceflow.graph import GraphError

    if isinstance(exc, GraphError) and exc.status == 403:
        return _insufficient_scope(ctx, exc)
    if not isinstance(exc, errors.OAuthError) or isinstance(exc, errors.InvalidGrantError):
        return None
    row = explain(exc.error, exc.error_codes)
    again = "deviceflow demo" if command == "demo" else login_command(ctx)
    details = server_details(exc)
    if isinstance(exc, errors.AccessDeniedError):
        cause = row.cause if row is not None else "the sign-in was refused"
        return DeniedError(
            f"sign-in denied: {cause}. If the request was yours, sign in again and approve it:"
            f" {again}\n  ({details})"
        )
    if isinstance(exc, errors.ExpiredTokenError):
        return ExpiredError(
            "the code expired before anyone approved it. Start a new sign-in and approve it in"
            f" time: {again}\n  ({details})"
        )
    if row is None:
        return None
    fix = row.fix.replace("deviceflow login", again)
    admin = f"\n  For an administrator: {row.admin}." if row.admin else ""
    return CliError(
        f"{row.title}: {row.cause}.\n  Next: {fix}{admin}\n  ({details})",
        exit_code=exit_code_for(exc),
    )


def _insufficient_scope(ctx: Context, exc: BaseException) -> CliError:
    """Graph's 403: name the missing scope and the login that adds it."""
    from deviceflow.cli.tokens import manager_for

    scope = getattr(exc, "scope", None)
    if not scope:
        return SignInRequiredError(
            f"{exc}. Sign in again asking for the scope this call needs: "
            f"{login_command(ctx)} --scope SCOPE"
        )
    try:
        current = manager_for(ctx).entry().scopes
    except Exception:  # nobody signed in, an unreadable cache: start from the settings
        current = ()
    current = current or ctx.settings.scopes
    wanted = tuple(dict.fromkeys([*current, *scope.split()]))
    answer = f"Graph answered HTTP 403 {getattr(exc, 'code', None) or ''}".rstrip()
    return SignInRequiredError(
        f"Graph refused: the token lacks the {scope} scope. Add it by signing in again with: "
        f"{login_command(ctx, scopes=wanted)}\n  ({answer}; it asks for {scope})"
    )
