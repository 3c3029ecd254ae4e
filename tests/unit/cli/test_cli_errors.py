from __future__ import annotations

import io

import pytest

from deviceflow import errors
from deviceflow.cache import CacheCorruptError, CachePermissionError
from deviceflow.cli.errors import (
    DeniedError,
    ExpiredError,
    NetworkFailureError,
    ServerError,
    SignInRequiredError,
    UsageError,
    exit_code_for,
    message_for,
    run_guarded,
)


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (UsageError("x"), 2),
        (SignInRequiredError("x"), 3),
        (DeniedError("x"), 4),
        (ExpiredError("x"), 5),
        (NetworkFailureError("x"), 6),
        (ServerError("x"), 7),
        (errors.AccessDeniedError("no"), 4),
        (errors.ExpiredTokenError(), 5),
        (errors.InvalidGrantError("revoked"), 3),
        (errors.ConnectError("refused"), 6),
        (errors.TLSError("bad cert"), 6),
        (errors.RemoteProtocolError("not json"), 7),
        (errors.InvalidClientError("x"), 7),
        (CacheCorruptError("corrupt"), 3),
        (CachePermissionError("chmod"), 2),
        (KeyboardInterrupt(), 130),
        (RuntimeError("bug"), 7),
    ],
)
def test_exit_code_for(exc: BaseException, code: int) -> None:
    assert exit_code_for(exc) == code


def test_messages_are_single_actionable_lines() -> None:
    assert message_for(errors.InvalidGrantError("revoked")).endswith(
        "Sign in again with: deviceflow login"
    )
    assert message_for(errors.ConnectError("refused")) == "network error: refused"
    assert message_for(KeyboardInterrupt()) == "interrupted"
    assert (
        message_for(RuntimeError("boom"))
        == "unexpected error (RuntimeError: boom); please report it"
    )
    assert message_for(UsageError("bad flag")) == "bad flag"


def test_run_guarded_prints_one_line_and_returns_code() -> None:
    err = io.StringIO()

    def body() -> int:
        raise DeniedError("the sign-in was denied")

    assert run_guarded(body, stderr=err) == 4
    assert err.getvalue() == "deviceflow: the sign-in was denied\n"
    assert "Traceback" not in err.getvalue()


def test_run_guarded_passes_result_and_system_exit() -> None:
    assert run_guarded(lambda: 0) == 0

    def exits() -> int:
        raise SystemExit(2)

    with pytest.raises(SystemExit):
        run_guarded(exits)


def test_run_guarded_maps_keyboard_interrupt_to_130() -> None:
    err = io.StringIO()

    def body() -> int:
        raise KeyboardInterrupt

    assert run_guarded(body, stderr=err) == 130
    assert err.getvalue() == "deviceflow: interrupted\n"
