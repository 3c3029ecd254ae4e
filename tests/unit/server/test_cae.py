"""Claims requests: parsing the ``claims`` parameter and judging tokens against a demand."""

from __future__ import annotations

from typing import Any

import pytest

from deviceflow.server.grant import GrantError, parse_claims
from deviceflow.server.grant._cae import satisfies


def test_parse_claims_takes_json_objects_only() -> None:
    assert parse_claims('{"access_token": {}}') == {"access_token": {}}
    for raw in ("[]", "null", "{", '"x"'):
        with pytest.raises(GrantError) as refused:
            parse_claims(raw)
        assert refused.value.error == "invalid_request"


@pytest.mark.parametrize(
    ("token", "demanded", "met"),
    [
        pytest.param({"nbf": 10}, {"access_token": {"nbf": {"value": "10"}}}, True, id="nbf-equal"),
        pytest.param({"nbf": 9}, {"access_token": {"nbf": {"value": "10"}}}, False, id="nbf-older"),
        pytest.param({}, {"access_token": {"nbf": {"value": "10"}}}, False, id="nbf-missing"),
        pytest.param({"nbf": 9}, {"access_token": {"nbf": {"value": "soon"}}}, True,
                     id="nbf-unreadable"),
        pytest.param({"nbf": 10}, {"access_token": {"nbf": {"values": ["9.5", "x"]}}}, True,
                     id="nbf-fraction"),
        pytest.param({"acrs": ["c1", "c2"]}, {"access_token": {"acrs": {"value": "c2"}}}, True,
                     id="acrs-held"),
        pytest.param({"acrs": ["c1"]}, {"access_token": {"acrs": {"values": ["c3", "c4"]}}},
                     False, id="acrs-not-held"),
        pytest.param({}, {"access_token": {"acrs": {"value": "c1"}}}, False, id="acrs-missing"),
        pytest.param({"tid": "t"}, {"access_token": {"tid": {"value": "t"}}}, True, id="text"),
        pytest.param({}, {"access_token": {"email": None, "x": {"essential": True}}}, True,
                     id="no-values-asked"),
        pytest.param({}, {"id_token": {"auth_time": {"value": 1}}}, True, id="id-token-only"),
        pytest.param({}, {"access_token": ["nbf"]}, True, id="malformed-rules"),
    ],
)  # fmt: skip
def test_satisfies(token: dict[str, Any], demanded: dict[str, Any], met: bool) -> None:
    assert satisfies(token, demanded) is met
