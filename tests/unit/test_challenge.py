"""Reading Bearer challenges and the claims of continuous access evaluation."""

from __future__ import annotations

import base64

import pytest

from deviceflow.challenge import bearer_parameters, claims_challenge

CLAIMS = '{"access_token":{"nbf":{"essential":true,"value":"1700000001"}}}'
ENCODED = base64.b64encode(CLAIMS.encode()).decode()
ESCAPED = CLAIMS.replace('"', '\\"')
GRAPH = (
    'Bearer realm="", authorization_uri="https://login.example/common/oauth2/authorize", '
    f'client_id="00000003-0000-0000-c000-000000000000", error="insufficient_claims", '
    f'claims="{ENCODED}"'
)


def test_graphs_challenge_gives_its_parameters() -> None:
    assert bearer_parameters(GRAPH) == {
        "realm": "",
        "authorization_uri": "https://login.example/common/oauth2/authorize",
        "client_id": "00000003-0000-0000-c000-000000000000",
        "error": "insufficient_claims",
        "claims": ENCODED,
    }


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(GRAPH, id="graph"),
        pytest.param(f'bearer error=insufficient_claims, claims="{ENCODED.rstrip("=")}"',
                     id="token-values-unpadded"),
        pytest.param(f'Basic realm="x", Bearer error="insufficient_claims", claims="{ENCODED}"',
                     id="after-another-scheme"),
        pytest.param(f'Bearer error="insufficient_claims", claims="{ESCAPED}"', id="raw-json"),
    ],
)  # fmt: skip
def test_claims_are_read_from_the_challenge(header: str) -> None:
    found = claims_challenge(header)
    assert found == CLAIMS


def test_base64url_claims_are_accepted() -> None:
    encoded = base64.urlsafe_b64encode(b'{"access_token":{"acrs":{"value":"c1??>"}}}').decode()
    assert "_" in encoded or "-" in encoded
    header = f'Bearer error="insufficient_claims", claims="{encoded}"'
    assert claims_challenge(header) == '{"access_token":{"acrs":{"value":"c1??>"}}}'


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(None, id="none"),
        pytest.param("", id="empty"),
        pytest.param('Basic realm="x"', id="no-bearer"),
        pytest.param('Bearer realm=""', id="no-error"),
        pytest.param(f'Bearer error="invalid_token", claims="{ENCODED}"', id="other-error"),
        pytest.param('Bearer error="insufficient_claims"', id="no-claims"),
        pytest.param('Bearer error="insufficient_claims", claims="%%%"', id="not-base64"),
        pytest.param('Bearer error="insufficient_claims", claims="/w=="', id="not-utf8"),
    ],
)
def test_no_claims_without_an_insufficient_claims_challenge(header: str | None) -> None:
    assert claims_challenge(header) is None


def test_escaped_quotes_and_a_trailing_scheme() -> None:
    header = r'Bearer realm="a \"quoted\" realm", error="x", Basic realm="other"'
    assert bearer_parameters(header) == {"realm": 'a "quoted" realm', "error": "x"}
    assert bearer_parameters("Bearer") == {}
