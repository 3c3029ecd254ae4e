"""Every log record ``serve`` writes is one line whatever a request put in it (``logsafe``)."""

from __future__ import annotations

import io
import logging

from deviceflow.server.logsafe import SafeFormatter, escape_controls


def test_escape_controls_spells_out_every_control_character() -> None:
    assert escape_controls("a\nb\rc\td") == "a\\nb\\rc\\td"
    assert escape_controls("\x00\x1b[2J\x7f\x85") == "\\x00\\x1b[2J\\x7f\\x85"
    assert escape_controls("line\u2028sep\u2029") == "line\\u2028sep\\u2029"
    assert escape_controls("plain ASCII, ünïcödé ✓") == "plain ASCII, ünïcödé ✓"


def test_safe_formatter_keeps_records_on_one_line_and_indents_tracebacks() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(SafeFormatter("%(levelname)s %(name)s: %(message)s"))
    log = logging.getLogger("tests.logsafe")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("GET %s 404", "/x\nINFO deviceflow.audit: forged")
        try:
            raise ValueError("bad\nINFO deviceflow.audit: forged too")
        except ValueError:
            log.exception("failed on %s", "/y")
    finally:
        log.removeHandler(handler)
        log.propagate = True
    lines = stream.getvalue().splitlines()
    assert lines[0] == "WARNING tests.logsafe: GET /x\\nINFO deviceflow.audit: forged 404"
    assert lines[1] == "ERROR tests.logsafe: failed on /y"
    assert lines[2] == "    Traceback (most recent call last):"
    assert all(line.startswith("    ") for line in lines[2:])
    assert "ValueError: bad" in lines[-2] and lines[-1] == "    INFO deviceflow.audit: forged too"
