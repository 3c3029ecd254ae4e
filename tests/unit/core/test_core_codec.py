"""The core's own encoders and decoders, checked against the standard library's."""

from __future__ import annotations

import base64
import datetime
import email.utils
import json
from urllib.parse import parse_qsl, quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deviceflow.core import HttpResponse, RemoteProtocolError
from deviceflow.core import _codec as codec


@given(st.lists(st.tuples(st.text(), st.text()), max_size=5))
def test_codec_form_encode_any_pairs_round_trips_through_parse_qsl(
    pairs: list[tuple[str, str]],
) -> None:
    encoded = codec.form_encode(pairs).decode("ascii")
    assert parse_qsl(encoded, keep_blank_values=True) == pairs


@given(st.text())
def test_codec_quote_any_text_matches_urllib(text: str) -> None:
    assert codec.quote(text) == quote(text, safe="~")


def test_codec_form_encode_space_and_reserved_characters_are_escaped() -> None:
    assert codec.form_encode([("scope", "User.Read openid"), ("x", "a&b=c+d/é")]) == (
        b"scope=User.Read+openid&x=a%26b%3Dc%2Bd%2F%C3%A9"
    )


@given(st.binary(max_size=64))
def test_codec_b64url_decode_any_bytes_matches_base64(data: bytes) -> None:
    url = base64.urlsafe_b64encode(data).decode()
    assert codec.b64url_decode(url) == data
    assert codec.b64url_decode(url.rstrip("=")) == data
    assert codec.b64url_decode(base64.b64encode(data).decode()) == data


@pytest.mark.parametrize("text", ["a", "ab!c", "abcde"])
def test_codec_b64url_decode_invalid_raises_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        codec.b64url_decode(text)


def test_codec_jwt_claims_decodes_payload_without_validating() -> None:
    payload = base64.urlsafe_b64encode(json.dumps({"name": "Adele"}).encode()).rstrip(b"=")
    assert codec.jwt_claims("e30." + payload.decode() + ".sig") == {"name": "Adele"}
    assert codec.jwt_claims("not-a-jwt") is None
    assert codec.jwt_claims("a.!!!.c") is None
    assert codec.jwt_claims("a.WzFd.c") is None  # [1] is not an object
    assert codec.jwt_claims(None) is None


@given(st.datetimes(timezones=st.just(datetime.timezone.utc)))
def test_codec_http_date_any_time_matches_email_utils(when: datetime.datetime) -> None:
    when = when.replace(microsecond=0)
    text = email.utils.format_datetime(when, usegmt=True)
    assert codec.http_date(text) == int(when.timestamp())


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 06 Foo 1994 08:49:37 GMT",
        "Sun, xx Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49 GMT",
        "Sun, 06 Nov 1994 08:4x:37 GMT",
    ],
)
def test_codec_http_date_malformed_returns_none(text: str) -> None:
    assert codec.http_date(text) is None


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        pytest.param({}, None, id="absent"),
        pytest.param({"Retry-After": " 7 "}, 7.0, id="delta"),
        pytest.param({"Retry-After": "999999999"}, 86400.0, id="delta-capped"),
        pytest.param({"Retry-After": "soon"}, None, id="garbage"),
        pytest.param(
            {"Retry-After": "Sun, 06 Nov 1994 08:49:37 GMT"}, None, id="date-without-date"
        ),
        pytest.param(
            {
                "Retry-After": "Sun, 06 Nov 1994 08:49:37 GMT",
                "Date": "Sun, 06 Nov 1994 08:50:37 GMT",
            },
            0.0,
            id="date-in-the-past",
        ),
    ],
)
def test_codec_retry_after_forms_parse(headers: dict[str, str], expected: float | None) -> None:
    assert codec.retry_after(HttpResponse(status=503, headers=headers)) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (900, 900.0),
        ("900", 900.0),
        (" 5 ", 5.0),
        ("5.5", 5.5),
        (2.5, 2.5),
        (True, None),
        (-1, None),
        ("-1", None),
        ("1_0", None),
        ("١", None),
        ("5.", None),
        (".5", None),
        (float("nan"), None),
        (float("inf"), None),
        ("9" * 16, None),
        (None, None),
        ([5], None),
    ],
)
def test_codec_parse_number_accepts_only_plain_non_negative_numbers(
    value: object, expected: float | None
) -> None:
    assert codec.parse_number(value) == expected


def test_codec_snippet_is_short_printable_and_collapsed() -> None:
    body = b"  <html>\r\n\t<b>\xff\x1b[2J</b>" + b"x" * 500
    text = codec.snippet(body)
    assert text.startswith("<html> <b>??[2J</b>xxx")
    assert text.endswith("...") and len(text) == codec.SNIPPET_LIMIT + 3
    assert codec.snippet(b"   ") == ""


def test_codec_decode_json_object_bom_is_tolerated() -> None:
    response = HttpResponse(status=200, body=b'\xef\xbb\xbf{"a": 1}')
    assert codec.decode_json_object(response, "x") == {"a": 1}


@pytest.mark.parametrize(
    "body",
    [b"\xff\xfe", b"[" * 100_000, b"{", b"", b"1e999999", b'{"a": 1} trailing'],
    ids=["bad-utf8", "deep-nesting", "truncated", "empty", "huge-float-is-a-number", "trailing"],
)
def test_codec_decode_json_object_garbage_raises_remote_protocol_error(body: bytes) -> None:
    with pytest.raises(RemoteProtocolError):
        codec.decode_json_object(HttpResponse(status=200, body=body), "x")


def test_codec_aadsts_codes_from_list_or_description() -> None:
    assert codec.aadsts_codes({"error_codes": [50076, "50079", "x", 1.5, True]}, None) == (
        50076,
        50079,
    )
    assert codec.aadsts_codes({}, "AADSTS53003: blocked; see AADSTS50173 and AADSTS") == (
        53003,
        50173,
    )
    assert codec.aadsts_codes({"error_codes": "70016"}, None) == ()


def test_codec_clean_text_limits_and_strips_controls() -> None:
    assert codec.clean_text("a\x00b\x9bc  d\u200be", 100) == "a b c d\u200be"
    assert codec.clean_text("abcdef", 3) == "abc"


def _clean_text_by_characters(value: str, limit: int) -> str:
    """clean_text's definition, a character at a time (it looks at bytes for speed and RAM)."""
    out: list[str] = []
    space = False
    for char in value:
        code = ord(char)
        if code < 32 or 127 <= code < 160 or char == " ":
            space = bool(out)
            continue
        if space:
            out.append(" ")
            space = False
        out.append(char)
        if len(out) >= limit:
            break
    return "".join(out)


_EDGES = st.sampled_from(
    [" ", "a", "\x00", "\x1f", "\x7f", "\x80", "\x9f", "\xa0", "\xc2", "\ud800"]
)


@given(
    st.text(st.one_of(_EDGES, st.characters(exclude_categories=()))),
    st.integers(min_value=1, max_value=12),
)
def test_codec_clean_text_matches_its_definition(value: str, limit: int) -> None:
    assert codec.clean_text(value, limit) == _clean_text_by_characters(value, limit)
