"""User and device codes (RFC 8628 §6.1, §5.1, §5.2; checklist 1, 4)."""

from __future__ import annotations

import collections
import dataclasses
import secrets

import pytest

from deviceflow.server.grant import _codes
from deviceflow.server.settings import RateLimits, Settings, UserCodeFormat
from tests.support.grant import start
from tests.support.grant_fixtures import EngineFactory

FMT = UserCodeFormat()


def test_ten_thousand_user_codes_use_only_the_alphabet() -> None:
    codes = [_codes.generate_user_code(FMT, secrets.token_bytes) for _ in range(20_000)]
    assert all(len(c) == 8 and set(c) <= set(FMT.charset) for c in codes)
    counts = collections.Counter("".join(codes))
    assert set(counts) == set(FMT.charset)
    expected = len(codes) * 8 / 20
    assert all(abs(n - expected) < expected * 0.1 for n in counts.values())  # no modulo bias


def test_ten_thousand_live_codes_never_collide(engine_factory: EngineFactory) -> None:
    unlimited = RateLimits(
        device_authorizations_per_ip=10_000, device_authorizations_per_client=10_000
    )
    engine = engine_factory(rate_limits=unlimited)
    user_codes = {start(engine).user_code for _ in range(10_000)}
    assert len(user_codes) == 10_000


def test_rejection_sampling_skips_biased_bytes() -> None:
    # 240..255 would favour the first 16 letters; they must be skipped, not folded.
    feed = iter([bytes([255, 250, 240, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])])
    assert _codes.generate_user_code(FMT, lambda n: next(feed)) == "BCDFGHJK"


def test_display_and_normalise_round_trip() -> None:
    fmt = UserCodeFormat(charset="BCDFGHJKLMNPQRSTVWXZ", mask="XXX XXX XXX")
    code = _codes.generate_user_code(fmt, secrets.token_bytes)
    shown = _codes.display_user_code(code, fmt)
    assert len(shown) == 11 and shown[3] == " "
    assert _codes.normalise_user_code(shown.lower()) == code
    assert _codes.is_well_formed(code, fmt)
    assert not _codes.is_well_formed(code[:-1], fmt)
    assert not _codes.is_well_formed("A" * 9, fmt)


def test_device_code_has_at_least_128_bits() -> None:
    code = _codes.generate_device_code(secrets.token_bytes)
    assert len(code) * 6 >= 256 - 6
    assert set(code) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_custom_format_is_used_by_the_engine(
    engine_factory: EngineFactory, rfc_settings: Settings
) -> None:
    # The [user_code] table applies to RFC tenants (Microsoft tenants use Entra's style).
    engine = engine_factory(
        rfc_settings, user_code=UserCodeFormat(charset="0123456789", mask="XXX-XXX-XXX-X")
    )
    code = start(engine).user_code
    assert len(code) == 13 and code.replace("-", "").isdigit()


def test_format_properties() -> None:
    assert FMT.length == 8
    assert FMT.bits == pytest.approx(34.58, abs=0.01)
    assert dataclasses.replace(FMT, mask="XXXXXX").bits < 30
