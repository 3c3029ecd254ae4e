"""User-code entry: normalisation, guessing protection (RFC 8628 §5.1, §6.1), sign-in."""

from __future__ import annotations

import pytest

from deviceflow.server.grant import GrantEngine, SignInError, VerificationError
from deviceflow.server.graph._presence import Presence
from deviceflow.server.settings import Settings
from deviceflow.server.storage.memory import MemoryStorage
from tests.support.clock import FakeClock
from tests.support.grant import start, tenant_of
from tests.support.grant_fixtures import EngineFactory

WRONG = "BCDF-BCDF"


def kind_of(
    engine: GrantEngine, code: str, *, ip: str = "198.51.100.1", session: str = "s1"
) -> str:
    with pytest.raises(VerificationError) as info:
        engine.verification.lookup_user_code(user_code=code, ip=ip, session=session)
    return info.value.kind


@pytest.mark.parametrize("typed", ["{}", "{lower}", "{spaced}", "  {raw} ", "{dotted}"])
def test_entry_is_case_and_separator_insensitive(engine_factory: EngineFactory, typed: str) -> None:
    engine = engine_factory()
    code = start(engine).user_code
    raw = code.replace("-", "")
    entry = typed.format(
        code,
        lower=code.lower(),
        spaced=f"{raw[:4].lower()} {raw[4:]}",
        raw=raw,
        dotted=".".join(raw),
    )
    pending = engine.verification.lookup_user_code(user_code=entry, ip="198.51.100.1", session="s")
    assert pending.user_code == code
    assert pending.client.name == "deviceflow demo"
    assert pending.device_ip == "192.0.2.10" and pending.device_user_agent == "TestTV/1.0"
    assert pending.expires_at - pending.created_at == 900
    assert pending.tenant == tenant_of(engine)


def test_empty_entry_is_invalid_and_not_counted(engine_factory: EngineFactory) -> None:
    engine = engine_factory()
    for _ in range(10):
        assert kind_of(engine, " - ") == "invalid"
    assert kind_of(engine, WRONG) == "unknown"


def test_sixth_attempt_is_refused_even_with_the_right_code(
    engine_factory: EngineFactory,
) -> None:
    engine = engine_factory()
    code = start(engine).user_code
    for n in range(5):
        assert kind_of(engine, WRONG, session=f"fresh-{n}") == "unknown"
    with pytest.raises(VerificationError) as info:
        engine.verification.lookup_user_code(user_code=code, ip="198.51.100.1", session="another")
    assert info.value.kind == "rate_limited"
    assert info.value.retry_after is not None and 0 < info.value.retry_after <= 900
    # a second IP is unaffected
    assert (
        engine.verification.lookup_user_code(
            user_code=code, ip="198.51.100.2", session="x"
        ).user_code
        == code
    )


def test_session_is_limited_across_ips(engine_factory: EngineFactory) -> None:
    engine = engine_factory()
    code = start(engine).user_code
    for n in range(5):
        kind_of(engine, WRONG, ip=f"203.0.113.{n}", session="one-browser")
    assert kind_of(engine, code, ip="203.0.113.99", session="one-browser") == "rate_limited"


def test_addresses_of_one_ipv6_64_share_one_counter(engine_factory: EngineFactory) -> None:
    # An IPv6 client usually holds a whole /64: each address of it must not get its own 5.
    engine = engine_factory()
    for n in range(5):
        ip = f"2001:db8:1:2::{n + 1:x}"
        assert kind_of(engine, WRONG, ip=ip, session=f"fresh-{n}") == "unknown"
    assert kind_of(engine, WRONG, ip="2001:db8:1:2:ffff:1:2:3", session="new") == "rate_limited"
    assert kind_of(engine, WRONG, ip="2001:db8:1:3::1", session="other") == "unknown"
    assert kind_of(engine, WRONG, ip="198.51.100.7", session="v4") == "unknown"  # IPv4: per address


def test_normalised_variants_share_one_counter(engine_factory: EngineFactory) -> None:
    engine = engine_factory()
    variants = ["wdjb mjht", "WDJB-MJHT", "wdjbmjht", "W-D-J-B-M-J-H-T", "WdJb MjHt"]
    for variant in variants:
        assert kind_of(engine, variant) == "unknown"
    assert kind_of(engine, "WDJB-MJHT") == "rate_limited"


def test_success_does_not_reset_the_ip_counter(engine_factory: EngineFactory) -> None:
    engine = engine_factory()
    codes = [start(engine).user_code for _ in range(3)]
    for n in range(4):
        kind_of(engine, WRONG, session=f"s{n}")
    engine.verification.lookup_user_code(user_code=codes[0], ip="198.51.100.1", session="s9")
    kind_of(engine, WRONG, session="s10")
    assert kind_of(engine, codes[1], session="s11") == "rate_limited"


def test_lockout_lifts_after_the_window(engine_factory: EngineFactory, clock: FakeClock) -> None:
    engine = engine_factory()
    code = start(engine).user_code
    for n in range(5):
        kind_of(engine, WRONG, session=f"s{n}")
    clock.advance(899)
    assert kind_of(engine, code, session="z") == "rate_limited"
    clock.advance(1)
    fresh = start(engine).user_code
    assert (
        engine.verification.lookup_user_code(
            user_code=fresh, ip="198.51.100.1", session="z"
        ).user_code
        == fresh
    )


def test_configured_limit_is_used(engine_factory: EngineFactory, dev_settings: Settings) -> None:
    import dataclasses

    limits = dataclasses.replace(dev_settings.rate_limits, user_code_failures=2)
    engine = engine_factory(rate_limits=limits)
    kind_of(engine, WRONG, session="a")
    kind_of(engine, WRONG, session="b")
    assert kind_of(engine, WRONG, session="c") == "rate_limited"


@pytest.mark.parametrize("entry", ["AEIOU123", "BCDF-BCD", "BCDF-BCDFG"])
def test_malformed_codes_count_as_wrong(engine_factory: EngineFactory, entry: str) -> None:
    engine = engine_factory()
    for _ in range(5):
        assert kind_of(engine, entry) == "unknown"
    assert kind_of(engine, entry) == "rate_limited"


def test_used_and_expired_codes_have_their_own_kinds(
    engine_factory: EngineFactory, clock: FakeClock
) -> None:
    engine = engine_factory()
    used = start(engine).user_code
    user = engine.settings.user(tenant_of(engine), "megan")
    assert user is not None
    engine.verification.decide(
        user_code=used, approve=True, user=user, ip="x", session="s", user_agent=None
    )
    assert kind_of(engine, used) == "used"
    expired = start(engine).user_code
    clock.advance(900)
    assert kind_of(engine, expired) == "expired"


def test_decide_refuses_user_of_another_tenant(
    engine_factory: EngineFactory, dev_settings: Settings
) -> None:
    import dataclasses

    engine = engine_factory()
    code = start(engine).user_code
    stranger = dataclasses.replace(dev_settings.users[0], tenant="elsewhere")
    with pytest.raises(VerificationError) as info:
        engine.verification.decide(
            user_code=code, approve=True, user=stranger, ip="x", session="s", user_agent=None
        )
    assert info.value.kind == "invalid"
    assert (
        engine.verification.lookup_user_code(user_code=code, ip="x", session="s").user_code == code
    )


@pytest.mark.parametrize(
    ("username", "password", "ok"),
    [
        ("adele", "adele-password", True),
        ("ADELE", "adele-password", True),
        ("adele@demo.example", "adele-password", True),
        ("adele", "megan-password", False),
        ("nobody", "adele-password", False),
    ],
)
def test_authenticate(
    engine_factory: EngineFactory, username: str, password: str, ok: bool
) -> None:
    engine = engine_factory()
    user = engine.authenticate(tenant=tenant_of(engine), username=username, password=password)
    assert (user is not None) is ok
    if user is not None:
        assert user.username == "adele"


def test_wrong_passwords_lock_the_account_even_for_the_right_one(
    engine_factory: EngineFactory, clock: FakeClock
) -> None:
    engine = engine_factory()
    tenant = tenant_of(engine)
    for n in range(5):
        address = f"198.51.100.{n}"  # from many addresses: the account limit still holds
        assert (
            engine.authenticate(tenant=tenant, username="adele", password="no", ip=address) is None
        )
    with pytest.raises(SignInError) as info:
        engine.authenticate(tenant=tenant, username="ADELE", password="adele-password", ip="x")
    assert (info.value.kind, info.value.retry_after) == ("account_locked", 900)
    clock.advance(900)
    assert engine.authenticate(tenant=tenant, username="adele", password="adele-password")


def test_disabled_user_cannot_sign_in(
    engine_factory: EngineFactory, dev_settings: Settings
) -> None:
    import dataclasses

    users = (dataclasses.replace(dev_settings.users[0], enabled=False), *dev_settings.users[1:])
    engine = engine_factory(users=users)
    assert (
        engine.authenticate(tenant=tenant_of(engine), username="adele", password="adele-password")
        is None
    )


def test_presence_round_trip(engine_factory: EngineFactory) -> None:
    engine = engine_factory()
    user_id = engine.settings.users[0].id
    presence = Presence(MemoryStorage())
    assert presence.get(user_id) == ("Available", "Available")
    presence.set(user_id, "Busy", "InACall")
    assert presence.get(user_id) == ("Busy", "InACall")
    assert engine.user_by_id(user_id) == engine.settings.users[0]
    with pytest.raises(ValueError, match="availability"):
        presence.set(user_id, "Sleeping", "Away")
    with pytest.raises(ValueError, match="activity"):
        presence.set(user_id, "Busy", "<script>")


def test_sign_in_audit_never_logs_an_unknown_username_verbatim(
    engine_factory: EngineFactory, caplog: pytest.LogCaptureFixture
) -> None:
    engine = engine_factory()
    typed = "adele-password"  # a password typed into the username field
    with caplog.at_level("INFO", logger="deviceflow.audit"):
        engine.authenticate(tenant=tenant_of(engine), username=typed, password="x")
        engine.authenticate(tenant=tenant_of(engine), username="ADELE", password="adele-password")
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert typed not in text
    assert "unknown:" in text
    assert "adele" in text  # a real user's canonical name stays readable
