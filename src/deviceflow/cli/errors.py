"""CLI exit codes, the CLI's own exceptions, and the one top-level handler that prints them.

Exit codes (documented in the README and ``deviceflow --help``):

====  =====================================================================
0     success
2     usage error (bad flag, missing setting)
3     sign-in required (no cached account, refresh token rejected or expired)
4     the user (or policy) denied the sign-in
5     the code expired before the user finished, or ``--timeout`` passed
6     network failure (connection refused, DNS, TLS, timeouts)
7     server or protocol error (unexpected response, other OAuth errors)
130   interrupted (Ctrl-C)
====  =====================================================================

Every exception reaching :func:`run_guarded` becomes one line on stderr, ``deviceflow: ...``;
no traceback ever reaches a user (``--debug`` adds the HTTP exchanges, not a traceback).
"""

from __future__ import annotations

import sys

# ``typing.TYPE_CHECKING`` without importing typing (``deviceflow token`` loads this module);
# type checkers treat the name as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TextIO

__all__ = [
    "EXIT_DENIED",
    "EXIT_EXPIRED",
    "EXIT_INTERRUPTED",
    "EXIT_NETWORK",
    "EXIT_OK",
    "EXIT_SERVER",
    "EXIT_SIGN_IN",
    "EXIT_USAGE",
    "CliError",
    "DeniedError",
    "ExpiredError",
    "NetworkFailureError",
    "ServerError",
    "SignInRequiredError",
    "UsageError",
    "exit_code_for",
    "message_for",
    "run_guarded",
]

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_SIGN_IN = 3
EXIT_DENIED = 4
EXIT_EXPIRED = 5
EXIT_NETWORK = 6
EXIT_SERVER = 7
EXIT_INTERRUPTED = 130


class CliError(Exception):
    """A failure the CLI reports as one line and an exit code."""

    exit_code = EXIT_SERVER


class UsageError(CliError):
    """A flag, argument or setting is missing or wrong."""

    exit_code = EXIT_USAGE


class SignInRequiredError(CliError):
    """No usable tokens: run ``deviceflow login``."""

    exit_code = EXIT_SIGN_IN


class DeniedError(CliError):
    """The sign-in was denied."""

    exit_code = EXIT_DENIED


class ExpiredError(CliError):
    """The code expired (or ``--timeout`` passed) before the user finished."""

    exit_code = EXIT_EXPIRED


class NetworkFailureError(CliError):
    """The server could not be reached."""

    exit_code = EXIT_NETWORK


class ServerError(CliError):
    """The server answered with an error or something unexpected."""

    exit_code = EXIT_SERVER


def exit_code_for(exc: BaseException) -> int:
    """The exit code for any exception (library errors mapped by kind; unknown ones → 7)."""
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    code = getattr(type(exc), "exit_code", None)
    if isinstance(code, int):
        return code
    from deviceflow import errors
    from deviceflow.cache.base import CacheCorruptError, CacheError

    if isinstance(exc, errors.AccessDeniedError):
        return EXIT_DENIED
    if isinstance(exc, errors.ExpiredTokenError):
        return EXIT_EXPIRED
    if isinstance(exc, errors.InvalidGrantError):
        return EXIT_SIGN_IN  # the refresh token was rejected: sign in again
    if isinstance(exc, CacheCorruptError):
        return EXIT_SIGN_IN
    if isinstance(exc, errors.TransportError):
        return EXIT_NETWORK
    if isinstance(exc, CacheError):
        return EXIT_USAGE  # unsafe permissions and the like: the user must act
    return EXIT_SERVER


def message_for(exc: BaseException) -> str:
    """One human line for ``exc`` (no traceback, no secrets: exception texts never hold any)."""
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    from deviceflow import errors

    text = str(exc) or type(exc).__name__
    if not isinstance(exc, (errors.DeviceFlowError, CliError, OSError, ValueError)):
        return f"unexpected error ({type(exc).__name__}: {text}); please report it"
    if isinstance(exc, errors.InvalidGrantError):
        return f"{text}. Sign in again with: deviceflow login"
    if isinstance(exc, errors.TransportError) and not isinstance(exc, CliError):
        return f"network error: {text}"
    return text


def run_guarded(body: Callable[[], int], *, stderr: TextIO | None = None) -> int:
    """Run ``body`` and turn every exception into a message on stderr and an exit code.

    Raises:
        SystemExit: only when ``body`` raises it (argparse's own exits).
    """
    err = stderr if stderr is not None else sys.stderr
    try:
        return body()
    except SystemExit:
        raise
    except BaseException as exc:
        if isinstance(exc, (GeneratorExit,)):  # pragma: no cover - never raised at top level
            raise
        try:
            print(f"deviceflow: {message_for(exc)}", file=err)
        except Exception:  # pragma: no cover - stderr is gone (closed pipe)
            pass
        return exit_code_for(exc)
