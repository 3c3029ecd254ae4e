"""Fixtures of the server hardening suite: the guarded harness and the log guard.

The log guard is autouse: every test here runs with the ``deviceflow`` loggers at DEBUG into a
list, and afterwards no line may hold a secret the test saw (device codes, user codes, tokens,
passwords), nor a traceback. Each module records how many lines it scanned
(``docs/reliability.md``, "Headers and transport").
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import pytest

from deviceflow.server.settings import Settings
from tests.hardening import figures
from tests.hardening.server.harness import PASSWORDS, GuardedHarness, guarded, hardening_settings
from tests.support.fixtures import anyio_backend, browser, browser_context_options, page

# Shared fixtures, used by the tests here.
__all__ = ["anyio_backend", "browser", "browser_context_options", "page"]


@dataclass
class LogTally:
    """Log lines scanned and secrets looked for, over one module."""

    lines: int = 0
    secrets: set[str] = field(default_factory=set)


class _ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.events: list[dict[str, object]] = []

    def emit(self, record: logging.LogRecord) -> None:
        audit = getattr(record, "audit", None)
        if isinstance(audit, dict):
            self.events.append(audit)
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        self.lines.append(f"{text} {getattr(record, 'audit', '')}")


@pytest.fixture(scope="module")
def log_tally(request: pytest.FixtureRequest) -> Iterator[LogTally]:
    tally = LogTally()
    yield tally
    name = request.module.__name__.rsplit(".", 1)[-1]
    figures.record(
        "Headers and transport",
        f"no secrets in server logs: {name}",  # in-process loggers, or the subprocess output
        log_lines=tally.lines,
        secrets_looked_for=len(tally.secrets),
        leaked=0,
    )


@pytest.fixture
def seen_secrets() -> set[str]:
    """Secrets a test saw outside the harness (e.g. from a subprocess server)."""
    return set(PASSWORDS)


@pytest.fixture(autouse=True)
def log_guard(log_tally: LogTally, seen_secrets: set[str]) -> Iterator[_ListHandler]:
    handler = _ListHandler()
    logger = logging.getLogger("deviceflow")
    old_level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    for harness in _harnesses:
        seen_secrets |= harness.seen
    _harnesses.clear()
    log_tally.lines += len(handler.lines)
    log_tally.secrets |= seen_secrets
    leaks = [
        f"{secret[:4]}... ({len(secret)} chars)"
        for secret in seen_secrets
        if any(secret in line for line in handler.lines)
    ]
    assert not leaks, f"server logs hold secrets: {leaks}"
    assert not any("Traceback" in line for line in handler.lines), "a traceback was logged"


_harnesses: list[GuardedHarness] = []


@pytest.fixture
def audit_events(log_guard: _ListHandler) -> list[dict[str, object]]:
    """The audit events of this test so far (a live list)."""
    return log_guard.events


@pytest.fixture(scope="session")
def settings() -> Settings:
    return hardening_settings()


@pytest.fixture
async def server(settings: Settings, anyio_backend: str) -> AsyncIterator[GuardedHarness]:
    async with guarded(settings) as harness:
        _harnesses.append(harness)
        yield harness
