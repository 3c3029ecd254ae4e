"""``deviceflow._jsonread.loads``: the value ``json.loads`` gives, or the error it raises."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deviceflow import _jsonread
from deviceflow._jsonread import loads
from deviceflow.cache import AccessToken, Account, CacheEntry

VALID = [
    '{"a": 1}',
    "  \t\n\r{}\n\n",
    "[]",
    '"just a string"',
    "0",
    "-0.5e-3",
    "12345678901234567890123456789",
    "true",
    "null",
    '{"nested": {"list": [1, 2.5, "x", null, false, {"deep": []}]}}',
    '{"dup": 1, "dup": 2}',
    '{"esc": "quote \\" backslash \\\\ slash \\/ \\b\\f\\n\\r\\t"}',
    '{"unicode": "\\u00e9\\u4e2d\\ud83d\\ude00", "raw": "é中😀"}',
    '{"lone surrogate": "\\ud800"}',
    '{"\\u0000key": "nul \\u0000 inside"}',
    '{"n": NaN, "i": Infinity, "m": -Infinity}',
]

INVALID = [
    "",
    "   ",
    "{",
    '{"a": 1,}',
    "[1, 2",
    '{"a" 1}',
    "{'a': 1}",
    '{"a": 1} {"b": 2}',
    '{"a": 1} x',
    "\ufeff{}",  # a byte-order mark: json.loads refuses it
    '"control \n char"',
    '"bad escape \\x41"',
    '"short \\u12"',
    "01",
    "+1",
    ".5",
    "nul",
    "True",
    '{"a": 1}\x00',
    "\u00a0{}",  # a non-JSON white space character
    '"unterminated',
]


def _same(a: object, b: object) -> bool:
    """Equal, with NaN equal to itself, and the same types all the way down."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        assert isinstance(b, dict)
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        assert isinstance(b, list)
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


@pytest.mark.parametrize("text", VALID)
def test_valid_documents_read_as_json_reads_them(text: str) -> None:
    assert _same(loads(text), json.loads(text))


@pytest.mark.parametrize("text", INVALID)
def test_invalid_documents_raise_json_s_own_error(text: str) -> None:
    with pytest.raises(ValueError) as expected:
        json.loads(text)
    with pytest.raises(ValueError) as got:
        loads(text)
    assert type(got.value) is type(expected.value)
    assert str(got.value) == str(expected.value)


def test_too_deep_nesting_raises_as_json_does() -> None:
    text = "[" * 100_000 + "]" * 100_000
    with pytest.raises(RecursionError):
        loads(text)


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@given(_JSON_VALUES, st.booleans(), st.sampled_from([None, 1]))
def test_any_document_json_writes_reads_back_the_same(
    value: object, ascii_only: bool, indent: int | None
) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only, indent=indent, sort_keys=True)
    assert _same(loads(text), json.loads(text))


@given(st.text(alphabet=st.sampled_from('{}[]":,.-+0123456789eEtrufalsn \\\n\tu"aé\x00')))
def test_any_text_reads_or_fails_as_json_does(text: str) -> None:
    try:
        expected = json.loads(text)
    except (ValueError, RecursionError) as exc:
        with pytest.raises(type(exc)) as got:
            loads(text)
        assert str(got.value) == str(exc)
    else:
        assert _same(loads(text), expected)


def test_a_cache_entry_as_the_file_cache_writes_it_reads_back() -> None:
    entry = CacheEntry(
        client_id="cli-ënt",
        token_url="http://127.0.0.1:9/token",
        device_authorization_url="http://127.0.0.1:9/devicecode",
        scopes=("openid", "User.Read"),
        refresh_token='refresh "quoted" \\ and \u2028 line separator',
        account=Account(username="zoë@example.com", name="Zoë 😀", subject="s"),
        access_tokens=(AccessToken(token="eyJ.access.token", expires_at=1.7e9 + 0.25),),
        updated_at=1.7e9,
    )
    text = json.dumps(entry.to_dict(), indent=1, sort_keys=True)
    assert CacheEntry.from_dict(loads(text)) == entry


def test_without_the_c_scanner_json_loads_does_the_work(monkeypatch: pytest.MonkeyPatch) -> None:
    # Another Python (PyPy, MicroPython) has no ``_json``: every call goes to json.loads.
    monkeypatch.setattr(_jsonread, "_scan_once", None)
    assert loads('{"a": [1, "\\u00e9"]}') == {"a": [1, "é"]}
    with pytest.raises(json.JSONDecodeError, match="Expecting value"):
        loads("")


def test_a_missing_accelerator_is_handled_at_import() -> None:
    code = (
        "import sys\n"
        "sys.modules['_json'] = None  # import _json raises ImportError\n"
        "from deviceflow import _jsonread\n"
        "assert _jsonread._scan_once is None\n"
        "assert _jsonread.loads('[1, {\"b\": null}]') == [1, {'b': None}]\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
