"""Users and clients in the database, and the "your devices" page, in process.

The admin operations (:class:`~deviceflow.server.admin.accounts.Administration`, what
``deviceflow admin`` runs) write to the very storage the app reads, as the CLI writes to a
running server's database; the clock is a :class:`FakeClock`.
"""

from __future__ import annotations

import time

import httpx
import pytest

from deviceflow.server.admin.accounts import AdminError, Administration
from deviceflow.server.grant._accounts import POLL_CLIENT_TTL
from deviceflow.server.security import hash_password
from deviceflow.server.settings import Settings
from deviceflow.server.storage.base import StoredClient, StoredUser, directory_of
from tests.support.app_harness import ALICE, BOB, Harness
from tests.support.pages import csrf_of

pytestmark = pytest.mark.anyio

DANA = ("dana", "dana-db-pass-1")


def administration(server: Harness, settings: Settings) -> Administration:
    return Administration(settings, server.storage, clock=server.clock, actor="tester")


async def test_database_user_and_client_sign_in_and_disable(
    server: Harness, server_settings: Settings
) -> None:
    admin = administration(server, server_settings)
    contoso = admin.tenant("contoso.example")  # any of the tenant's names
    admin.add_user(contoso, DANA[0], DANA[1], display_name="Dana")
    admin.add_client(contoso, "Shelf Clock", client_id="shelf-clock")
    server.users["contoso"] = DANA
    tokens = await server.tokens(client_id="shelf-clock")
    assert tokens["refresh_token"]

    admin.set_enabled(contoso, "DANA", False)  # names in any case
    started = await server.authorize(client_id="shelf-clock")
    browser = server.client()
    entered = await server.enter_code(browser, started["user_code"])
    refused = await server.sign_in(browser, entered, started["user_code"], DANA)
    assert "That username or password is not right." in refused.text
    again = await server.client().post(
        "/contoso/oauth2/v2.0/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"],
              "client_id": "shelf-clock"},
    )  # fmt: skip
    assert again.json()["error"] == "invalid_grant"


async def test_the_configuration_file_wins_over_a_database_user_of_the_same_name(
    server: Harness, server_settings: Settings
) -> None:
    admin = administration(server, server_settings)
    contoso = admin.tenant("contoso")
    with pytest.raises(AdminError) as refused:
        admin.add_user(contoso, "ALICE", "another-password")
    assert refused.value.exit_code == 2
    # A row written before the file defined the name is never reached.
    store = directory_of(server.storage)
    assert store is not None
    store.insert_user(
        StoredUser(id="0000aaaa-0000-4000-8000-000000000001", tenant_id="contoso",
                   username="alice", password_hash=hash_password("db-password-1"))
    )  # fmt: skip
    started = await server.authorize()
    browser = server.client()
    entered = await server.enter_code(browser, started["user_code"])
    shadowed = await server.sign_in(
        browser, entered, started["user_code"], ("alice", "db-password-1")
    )
    assert "That username or password is not right." in shadowed.text
    confirm = await server.sign_in(browser, entered, started["user_code"], ALICE)
    assert "Connect a device?" in confirm.text


async def test_a_disabled_client_polls_for_at_most_the_poll_cache_time(
    server: Harness, server_settings: Settings
) -> None:
    admin = administration(server, server_settings)
    contoso = admin.tenant("contoso")
    admin.add_client(contoso, "Shelf Clock", client_id="shelf-clock")
    started = await server.authorize(client_id="shelf-clock")
    approved = await server.authorize(client_id="shelf-clock")
    assert (await server.decide(approved["user_code"])).status_code == 200
    server.clock.advance(started["interval"])
    first = await server.poll(started["device_code"], client_id="shelf-clock")
    assert first.json()["error"] == "authorization_pending"
    admin.disable_client(contoso, "shelf-clock")
    # A new device authorization reads the database at once.
    refused = await server.client().post(
        "/contoso/oauth2/v2.0/devicecode", data={"client_id": "shelf-clock"}
    )
    assert refused.json()["error"] == "invalid_client"
    # The pending poll may use what it read within POLL_CLIENT_TTL; the code page refuses.
    entered = await server.enter_code(server.client(), started["user_code"])
    assert entered.status_code == 404
    server.clock.advance(started["interval"])
    cached = await server.poll(started["device_code"], client_id="shelf-clock")
    assert cached.json()["error"] == "authorization_pending"
    # ... but a redemption reads the database again: no tokens for a disabled client.
    redeemed = await server.poll(approved["device_code"], client_id="shelf-clock")
    assert redeemed.json()["error"] == "invalid_client"
    server.clock.advance(POLL_CLIENT_TTL)
    late = await server.poll(started["device_code"], client_id="shelf-clock")
    assert late.json()["error"] == "invalid_client"


async def _devices(browser: httpx.AsyncClient, credentials: tuple[str, str]) -> httpx.Response:
    page = await browser.get("/devices")
    return await browser.post(
        "/devices/signin",
        data={"csrf_token": csrf_of(page.text), "username": credentials[0],
              "password": credentials[1]},
    )  # fmt: skip


async def test_devices_page_lists_and_revokes_only_the_persons_own(server: Harness) -> None:
    alice = await server.tokens()
    bob = await server.tokens("fabrikam")
    browser = server.client()
    page = await _devices(browser, ALICE)
    assert page.status_code == 200
    assert page.text.count('class="device"') == 1
    assert "Desk Lamp &lt;script&gt;" in page.text  # the application's name, escaped
    assert time.strftime("%Y-%m-%d", time.gmtime(server.clock())) in page.text

    bob_session = server.app.state.ctx.engine.sessions.of_user(
        server.app.state.ctx.engine.accounts.users_named(None, BOB[0])[0].id
    )[0].id
    foreign = await browser.post(
        "/devices/revoke", data={"csrf_token": csrf_of(page.text), "session": bob_session}
    )
    assert "That device is not signed in any more." in foreign.text
    still = await server.client().post(
        "/fabrikam/oauth2/v2.0/token",
        data={"grant_type": "refresh_token", "refresh_token": bob["refresh_token"],
              "client_id": server.client_id},
    )  # fmt: skip
    assert still.status_code == 200

    no_csrf = await browser.post("/devices/revoke", data={"session": bob_session})
    assert no_csrf.status_code == 403

    own = server.app.state.ctx.engine.sessions.of_user(
        server.app.state.ctx.engine.accounts.users_named(None, ALICE[0])[0].id
    )[0].id
    done = await browser.post(
        "/devices/revoke", data={"csrf_token": csrf_of(page.text), "session": own}
    )
    assert "is signed out" in done.text and 'class="device"' not in done.text
    refused = await server.client().post(
        "/contoso/oauth2/v2.0/token",
        data={"grant_type": "refresh_token", "refresh_token": alice["refresh_token"],
              "client_id": server.client_id},
    )  # fmt: skip
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"


async def test_devices_page_asks_an_anonymous_browser_to_sign_in(server: Harness) -> None:
    browser = server.client()
    page = await browser.get("/devices")
    assert "Sign in" in page.text and 'action="http://testserver/devices/signin"' in page.text
    revoke = await browser.post(
        "/devices/revoke", data={"csrf_token": csrf_of(page.text), "session": "x"}
    )
    assert "Please sign in." in revoke.text


async def test_refresh_keeps_where_the_device_asked_from(server: Harness) -> None:
    tokens = await server.tokens()
    device = server.client("192.0.2.44")
    refreshed = await device.post(
        "/contoso/oauth2/v2.0/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"],
              "client_id": server.client_id},
        headers={"User-Agent": "Lamp/" + "x" * 300},
    )  # fmt: skip
    assert refreshed.status_code == 200
    engine = server.app.state.ctx.engine
    (session,) = engine.sessions.of_user(engine.accounts.users_named(None, ALICE[0])[0].id)
    assert session.ip == "192.0.2.44"
    assert session.user_agent is not None and len(session.user_agent) == 256
    assert session.signed_in_at <= session.last_used_at


async def test_start_up_names_the_database_entries_the_file_hides(server: Harness) -> None:
    store = directory_of(server.storage)
    assert store is not None
    engine = server.app.state.ctx.engine
    assert engine.accounts.shadowed() == []
    store.insert_user(
        StoredUser(id="0000aaaa-0000-4000-8000-000000000002", tenant_id="contoso",
                   username="ALICE@contoso.example", password_hash=hash_password("x" * 8))
    )  # fmt: skip
    store.insert_client(
        StoredClient(client_id=server.client_id, tenant_id="contoso", name="x", public=True,
                     secret_hash="")
    )  # fmt: skip
    assert engine.accounts.shadowed() == [
        "user 'ALICE@contoso.example' of tenant 'contoso'",
        f"client {server.client_id!r}",
    ]
