"""HttpRequest / HttpResponse values and small endpoint helpers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deviceflow.core import HttpRequest, HttpResponse
from deviceflow.core._authority import _same_issuer, is_guid
from deviceflow.core._endpoints import split_url


def test_http_request_value_semantics() -> None:
    one = HttpRequest(method="POST", url="https://a/t", headers={"Accept": "x"}, body=b"secret")
    two = HttpRequest(method="POST", url="https://a/t", headers=[("Accept", "x")], body=b"secret")
    assert one == two and hash(one) == hash(two) and one != "x"
    assert one.header("ACCEPT") == "x" and one.header("missing") is None
    assert repr(one) == "<HttpRequest POST https://a/t (6 bytes)>"
    with pytest.raises(AttributeError):
        one.url = "https://b"  # type: ignore[misc]


def test_http_response_value_semantics() -> None:
    one = HttpResponse(status=200, body=b"{}")
    assert one == HttpResponse(status=200, body=b"{}") and one != 200
    assert hash(one) == hash(HttpResponse(status=200, body=b"{}"))
    assert repr(one) == "<HttpResponse 200 (2 bytes)>"


@pytest.mark.parametrize(
    ("factory", "exc"),
    [
        pytest.param(lambda: HttpRequest(method="get", url="https://a"), ValueError, id="method"),
        pytest.param(lambda: HttpRequest(method="GET", url=""), ValueError, id="empty-url"),
        pytest.param(
            lambda: HttpRequest(method="GET", url="https://a", body="x"), TypeError, id="body"
        ),
        pytest.param(
            lambda: HttpRequest(method="GET", url="https://a", headers={"a": 1}),
            TypeError,
            id="header-value",
        ),
        pytest.param(lambda: HttpResponse(status=600), ValueError, id="status-range"),
        pytest.param(lambda: HttpResponse(status=True), ValueError, id="status-bool"),
        pytest.param(lambda: HttpResponse(status=200, body=None), TypeError, id="response-body"),
    ],
)
def test_http_message_invalid_values_raise(factory: object, exc: type[Exception]) -> None:
    with pytest.raises(exc):
        factory()  # type: ignore[operator]


@given(
    st.text(st.one_of(st.sampled_from(" \x00\x7f\x80\xa0a/"), st.characters(exclude_categories=())))
)
def test_split_url_refuses_exactly_whitespace_and_controls(path: str) -> None:
    url = "https://host/" + path
    if any(ord(char) <= 32 or ord(char) == 127 for char in url):
        with pytest.raises(ValueError, match="whitespace or control"):
            split_url(url)
    elif "#" not in path:
        assert split_url(url)[2] == "/" + path


def test_split_url_and_guid_helpers() -> None:
    assert split_url("HTTPS://Host:8443/a/b?q=1") == ("https", "Host:8443", "/a/b?q=1")
    assert split_url("http://h?x") == ("http", "h", "?x")
    with pytest.raises(TypeError):
        split_url(None)  # type: ignore[arg-type]
    assert is_guid("9188040d-6c67-4c5b-b112-36a304b66dad")
    assert not is_guid("9188040d-6c67-4c5b-b112-36a304b66daz")
    assert not is_guid("common")


@pytest.mark.parametrize(
    ("expected", "actual", "same"),
    [
        ("https://h/common/v2.0", "https://h/{tenantid}/v2.0/", True),
        ("https://h/common/v2.0", "https://h/{tenantid}/v1.0", False),
        ("https://h/common/v2.0", "https://h/contoso/v2.0", False),
        ("https://h", "https://h/x", False),
        ("https://h/common", "http://h/{tenantid}", False),
    ],
)
def test_same_issuer_microsoft_tenant_exception_only(
    expected: str, actual: str, same: bool
) -> None:
    assert _same_issuer(expected, actual) is same
