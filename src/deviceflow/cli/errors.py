"""CLI exit codes, the CLI's own exceptions, and the one top-level handler that prints them.

:data:`EXIT_CODES` is the one table of exit codes for every command, ``serve`` and ``demo``
included: ``deviceflow --help`` prints it (:func:`exit_code_table`) and the README's "Exit codes"
section repeats it (a test compares the two). A new failure maps onto a row here; a new row is
added here first.

Every exception reaching :func:`run_guarded` becomes ``deviceflow: ...`` on stderr (one line,
sometimes a second with the server's reference numbers); no traceback ever reaches a user
(``--debug`` adds the HTTP exchanges, not a traceback).
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
    "EXIT_CODES",
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
    "exit_code_table",
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

#: Every exit code of every command, with its meaning (one line each, for ``--help``).
EXIT_CODES: tuple[tuple[int, str], ...] = (
    (EXIT_OK, "success (logout: also when nobody was signed in)"),
    (
        EXIT_USAGE,
        "usage or setup error: a bad flag, argument, setting, config file or database URL",
    ),
    (EXIT_SIGN_IN, "sign-in required (run: deviceflow login)"),
    (EXIT_DENIED, "sign-in denied, by the user or a policy"),
    (EXIT_EXPIRED, "the code expired, or --timeout passed"),
    (EXIT_NETWORK, "network error: a server or database unreachable (DNS, TLS), or a port in use"),
    (EXIT_SERVER, "server or protocol error: an unexpected answer, a database failure"),
    (EXIT_INTERRUPTED, "interrupted (Ctrl-C)"),
)


def exit_code_table(indent: str = "  ") -> str:
    """:data:`EXIT_CODES` as aligned text lines (for ``--help``)."""
    return "\n".join(f"{indent}{code:<5}{meaning}" for code, meaning in EXIT_CODES)


class CliError(Exception):
    """A failure the CLI reports as a message and an exit code (``exit_code``: the class's,
    unless given)."""

    exit_code = EXIT_SERVER

    def __init__(self, message: str = "", *, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


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
    code = getattr(exc, "exit_code", None)
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
        return _network_message(exc, text)
    return text


def _network_message(exc: BaseException, text: str) -> str:
    """``could not reach HOST: why``, and for TLS failures how to trust a private CA."""
    from urllib.parse import urlsplit

    from deviceflow import errors

    request = getattr(exc, "request", None)
    host = urlsplit(request.url).netloc if request is not None else ""
    message = f"could not reach {host}: {text}" if host else f"network error: {text}"
    if isinstance(exc, errors.TLSError):
        message = f"no trusted TLS connection to {host or 'the server'}: {text}"
        message += (
            "\n  If the server's certificate comes from a private CA (deviceflow serve --tls"
            " prints its path), trust it with: export SSL_CERT_FILE=/path/to/ca.pem"
        )
    return message


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
