"""Forwarded headers are believed from the configured proxies only (``server.proxies``)."""

from __future__ import annotations

from typing import Any

import pytest

from deviceflow.server.proxies import TrustedProxies, parse_address
from deviceflow.server.settings import Settings, SettingsError

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def seen_by_app(
    proxies: list[str], peer: str, headers: list[tuple[bytes, bytes]]
) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.update(client=scope["client"][0], scheme=scope["scheme"])

    layer = TrustedProxies(app, proxies=proxies)
    scope = {"type": "http", "client": (peer, 5000), "scheme": "http", "headers": headers}
    await layer(scope, None, None)
    return seen


XFF = b"x-forwarded-for"


@pytest.mark.parametrize(
    ("proxies", "peer", "headers", "client"),
    [
        pytest.param([], "127.0.0.1", [(XFF, b"203.0.113.9")], "127.0.0.1", id="none-trusted"),
        pytest.param(
            ["10.0.0.1"], "127.0.0.1", [(XFF, b"203.0.113.9")], "127.0.0.1", id="untrusted-peer"
        ),
        pytest.param(["10.0.0.1"], "10.0.0.1", [(XFF, b"203.0.113.9")], "203.0.113.9", id="one"),
        pytest.param(
            ["10.0.0.0/8"],
            "10.0.0.1",
            [(XFF, b"198.51.100.7, 203.0.113.9, 10.1.2.3")],
            "203.0.113.9",
            id="chain-stops-at-first-untrusted",
        ),
        pytest.param(
            ["10.0.0.0/8"],
            "10.0.0.1",
            [(XFF, b"198.51.100.7"), (XFF, b"10.1.2.3")],
            "198.51.100.7",
            id="repeated-header",
        ),
        pytest.param(["10.0.0.1"], "10.0.0.1", [(XFF, b"evil")], "10.0.0.1", id="not-an-ip"),
        pytest.param(
            ["10.0.0.0/8"],
            "10.0.0.1",
            [(XFF, b"203.0.113.9, unknown, 10.1.2.3")],
            "10.1.2.3",
            id="garbage-stops-the-walk",
        ),
        pytest.param(["10.0.0.1"], "10.0.0.1", [(XFF, b"  ")], "10.0.0.1", id="empty"),
        pytest.param(["10.0.0.1"], "10.0.0.1", [], "10.0.0.1", id="no-header"),
        pytest.param(["::1"], "::1", [(XFF, b"[2001:DB8::1]:4711")], "2001:db8::1", id="ipv6-port"),
        pytest.param(["::1"], "::1", [(XFF, b"192.0.2.1:80")], "192.0.2.1", id="ipv4-port"),
    ],
)
async def test_trusted_proxies_pick_the_client(
    proxies: list[str], peer: str, headers: list[tuple[bytes, bytes]], client: str
) -> None:
    assert (await seen_by_app(proxies, peer, headers))["client"] == client


@pytest.mark.parametrize(
    ("peer", "proto", "scheme"),
    [
        ("10.0.0.1", b"https", "https"),
        ("10.0.0.1", b"http, https", "https"),
        ("10.0.0.1", b"gopher", "http"),
        ("127.0.0.1", b"https", "http"),
    ],
)
async def test_forwarded_proto_only_from_a_trusted_proxy(
    peer: str, proto: bytes, scheme: str
) -> None:
    seen = await seen_by_app(["10.0.0.1"], peer, [(b"x-forwarded-proto", proto)])
    assert seen["scheme"] == scheme


def test_parse_address_refuses_names() -> None:
    assert parse_address("example.com") is None
    assert parse_address("1.2.3.4.5") is None
    assert parse_address("[::1") == "::1"


def test_trusted_proxies_setting_is_validated() -> None:
    base = {"tenants": [{"id": "t"}]}
    assert Settings.from_mapping(base).trusted_proxies == ()
    ok = Settings.from_mapping({**base, "trusted_proxies": ["10.0.0.1", "10.0.0.0/8", "::1"]})
    assert ok.trusted_proxies == ("10.0.0.1", "10.0.0.0/8", "::1")
    with pytest.raises(SettingsError, match="trusted_proxies: 'proxy.internal'"):
        Settings.from_mapping({**base, "trusted_proxies": ["proxy.internal"]})
