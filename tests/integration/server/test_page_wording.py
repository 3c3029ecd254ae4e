"""What the pages say (issue 16 items 5 and 11): the code format of the tenants, the typed code
kept after a typo, natural sign-in sentences, "Saved." as a success, and a real favicon."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from deviceflow.server.settings import Settings
from deviceflow.server.settings._development import DEMO_CLIENT_ID, development
from tests.support.app_harness import CONFIG, Harness, running
from tests.support.pages import csrf_of

pytestmark = pytest.mark.anyio


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def _one_tenant(dialect: str, **extra: Any) -> Settings:
    config = copy.deepcopy(CONFIG)
    config["tenants"] = [{"id": "contoso", "name": "Contoso", "dialect": dialect, **extra}]
    config["users"] = [u for u in config["users"] if u["tenant"] == "contoso"]
    return Settings.from_mapping(config)


def _placeholder(html: str) -> str:
    match = re.search(r'id="code"[^>]* placeholder="([^"]*)"', html)
    assert match, "the code field has no placeholder"
    return match.group(1)


async def _typo(harness: Harness, typed: str) -> Any:
    browser = harness.client()
    page = await browser.get("/devicelogin")
    return await browser.post(
        "/devicelogin", data={"csrf_token": csrf_of(page.text), "code": typed}
    )


async def test_a_microsoft_tenant_describes_its_nine_character_codes() -> None:
    async with running(_one_tenant("microsoft")) as harness:
        page = await harness.client().get("/devicelogin")
        started = await harness.authorize()
    text = _text(page.text)
    assert len(started["user_code"]) == 9
    assert "The code is 9 letters and digits (never 0, 1, I or O), like AHQX6DLT2." in text
    assert _placeholder(page.text) == "XXXXXXXXX"
    assert "8 letters" not in text and "XXXX-XXXX" not in page.text


async def test_an_rfc_tenant_describes_its_dashed_consonant_codes() -> None:
    async with running(_one_tenant("rfc8628")) as harness:
        page = await harness.client().get("/devicelogin")
    text = _text(page.text)
    assert "The code is 8 letters (never A, E, I, O, U or Y), like BKSC-LTDM." in text
    assert "Dashes and spaces are optional." in text
    assert _placeholder(page.text) == "XXXX-XXXX"


async def test_a_user_code_table_describes_its_own_alphabet_and_grouping() -> None:
    config = copy.deepcopy(CONFIG)
    config["tenants"] = [{"id": "contoso", "name": "Contoso", "dialect": "rfc8628"}]
    config["users"] = [u for u in config["users"] if u["tenant"] == "contoso"]
    config["user_code"] = {"charset": "0123456789", "mask": "XXXX XXXX XX"}
    settings = Settings.from_mapping(config)
    async with running(settings) as harness:
        page = await harness.client().get("/devicelogin")
        started = await harness.authorize()
    assert re.fullmatch(r"\d{4} \d{4} \d{2}", started["user_code"])
    assert "The code is 10 digits, like 0741 8529 63." in _text(page.text)
    assert _placeholder(page.text) == "XXXX XXXX XX"


async def test_two_tenants_with_two_formats_describe_both(server: Harness) -> None:
    page = await server.client().get("/devicelogin")
    text = _text(page.text)
    assert "8 letters (never A, E, I, O, U or Y), like BKSC-LTDM" in text
    assert ", or 9 letters and digits (never 0, 1, I or O), like AHQX6DLT2" in text
    assert _placeholder(page.text) == "XXXX-XXXX / XXXXXXXXX"


async def test_the_demo_tenant_describes_its_microsoft_codes() -> None:
    async with running(development(Settings, None)) as harness:
        page = await harness.client().get("/devicelogin")
    assert "The code is 9 letters and digits" in _text(page.text)
    assert _placeholder(page.text) == "XXXXXXXXX"


async def test_a_code_of_the_wrong_length_is_kept_and_told_how_it_differs() -> None:
    async with running(_one_tenant("microsoft")) as harness:
        response = await _typo(harness, "BCDF-GHJK")
    assert response.status_code == 404
    text = _text(response.text)
    assert "Code not recognised" in text
    assert "You typed 8 letters and digits; a code has 9." in text
    assert "Codes are 8 letters" not in text
    assert 'value="BCDF-GHJK"' in response.text  # kept in the field
    assert _placeholder(response.text) == "XXXXXXXXX"
    assert "Enter another code" not in text  # the form itself is back


async def test_a_code_with_characters_no_code_has_names_them() -> None:
    async with running(_one_tenant("microsoft")) as harness:
        response = await _typo(harness, "ABCD0FGHI")
    text = _text(response.text)
    assert "A code never contains 0 or I: check those characters on your device." in text
    assert 'value="ABCD0FGHI"' in response.text


async def test_a_well_formed_unknown_code_is_kept_with_the_usual_advice() -> None:
    async with running(_one_tenant("microsoft")) as harness:
        response = await _typo(harness, "abcdefghj")
    text = _text(response.text)
    assert "We could not find that code. Check the code on your device and type it again." in text
    assert 'value="abcdefghj"' in response.text


async def test_the_kept_code_is_html_escaped(server: Harness) -> None:
    response = await _typo(server, '"><script>alert(1)</script>')
    assert response.status_code in (400, 404)
    assert "<script>alert(1)" not in response.text
    assert 'value="&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in response.text


async def test_sign_in_names_the_app_and_the_organisation(server: Harness) -> None:
    started = await server.authorize()
    entered = await server.enter_code(server.client(), started["user_code"])
    text = _text(entered.text)
    assert "is asking to connect to your account. Sign in with your Contoso account to" in text
    assert "continue connecting" not in text


async def test_the_demo_sign_in_does_not_repeat_one_name() -> None:
    async with running(development(Settings, None)) as harness:
        started = await harness.authorize("demo", client_id=DEMO_CLIENT_ID)
        entered = await harness.enter_code(harness.client(), started["user_code"])
    text = _text(entered.text)
    assert "deviceflow demo is asking to connect to your account. Sign in to continue." in text
    assert text.count("deviceflow demo") == 1


async def test_presence_sign_in_says_what_it_is_for_and_saved_is_a_success(
    server: Harness,
) -> None:
    browser = server.client()
    page = await browser.get("/presence")
    assert "Sign in to set the presence" in _text(page.text)
    assert "connecting the presence page" not in _text(page.text)
    signed = await browser.post(
        "/presence/signin",
        data={"csrf_token": csrf_of(page.text), "username": "alice", "password": "alice-pw-123"},
    )
    saved = await browser.post(
        "/presence",
        data={"csrf_token": csrf_of(signed.text), "availability": "Busy", "activity": "InACall"},
    )
    assert '<p class="success" role="status">Saved.</p>' in saved.text
    bad = await browser.post(
        "/presence",
        data={"csrf_token": csrf_of(signed.text), "availability": "Nope", "activity": "Busy"},
    )
    assert '<p class="notice" role="alert">Pick values from the lists.</p>' in bad.text


async def test_favicon_is_a_small_cacheable_icon(server: Harness) -> None:
    response = await server.client().get("/favicon.ico")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/vnd.microsoft.icon"
    assert response.content[:4] == b"\x00\x00\x01\x00"  # an ICO header, one image
    assert 0 < len(response.content) < 4096
    assert "max-age=" in response.headers["cache-control"]
    assert "no-store" not in response.headers["cache-control"]
    page = await server.client().get("/devicelogin")
    assert '<link rel="icon" href="http://testserver/favicon.ico">' in page.text
