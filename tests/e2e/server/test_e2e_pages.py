"""Every page of a real ``deviceflow serve``, in real Chromium at 400 px wide: screenshots, the
wording a person reads, and nothing wider than the screen.

Each page is photographed (full page) and its rendered text checked; ``scrollWidth`` proves
nothing overflows sideways on a small phone. Screenshots go to the test's temporary folder, or
to ``$PAGES_SCREENSHOT_DIR`` when set (to look at them).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.server.flows import poll_until_done, sign_in, start_flow
from tests.support.config import write_config
from tests.support.pages import approve_over_http
from tests.support.serverproc import (
    CLIENT_ID,
    PASSWORD,
    USERNAME,
    ServerProcess,
    e2e_config,
    e2e_server,
    serving,
)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-server-pages")]

WIDTH = 400
SUCCESS_BACKGROUND = "rgb(230, 246, 234)"  # .success in style.css
ERROR_BACKGROUND = "rgb(253, 232, 232)"  # .notice and .error


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = e2e_server(tmp_path_factory.mktemp("e2e-pages"))
    proc.remember(PASSWORD)
    with serving(proc, clean=True):
        yield proc


@pytest.fixture
def browser_context_options() -> dict[str, Any]:
    return {"viewport": {"width": WIDTH, "height": 800}}


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("PAGES_SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def shoot(page: Any, folder: Path, name: str, *expected: str) -> str:
    """Photograph the page, check it fits 400 px and says ``expected``; return its text."""
    page.wait_for_load_state()
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert _png_size(path)[0] == WIDTH
    assert path.stat().st_size > 5_000, f"{name} screenshot looks empty"
    scroll_width = page.evaluate("document.scrollingElement.scrollWidth")
    assert scroll_width <= WIDTH, f"{name} page is {scroll_width} px wide"
    text: str = " ".join(page.inner_text("body").split())
    for phrase in expected:
        assert phrase in text, f"{name} page lacks {phrase!r}: {text}"
    return text


def background(page: Any, selector: str) -> str:
    colour: str = page.eval_on_selector(selector, "e => getComputedStyle(e).backgroundColor")
    return colour


def test_every_device_sign_in_page_at_400_px(server: ServerProcess, page: Any, shots: Path) -> None:
    flow = start_flow(server, scope="openid profile offline_access User.Read Presence.Read")
    page.goto(f"{server.base_url}/devicelogin")
    text = shoot(
        page, shots, "01-enter-code",
        "Enter the code shown on your device",
        "The code is 8 letters (never A, E, I, O, U or Y), like BKSC-LTDM,"
        " or 9 letters and digits (never 0, 1, I or O), like AHQX6DLT2.",
    )  # fmt: skip
    assert "Codes are 8 letters" not in text
    field = page.get_by_label("Code")
    assert field.get_attribute("placeholder") == "XXXX-XXXX / XXXXXXXXX"

    field.fill("BCDF-GHJ")  # one letter short
    page.get_by_role("button", name="Next").click()
    shoot(
        page, shots, "02-enter-code-typo",
        "Code not recognised", "You typed 7 letters and digits; a code has 8 or 9.",
    )  # fmt: skip
    assert page.get_by_label("Code").input_value() == "BCDF-GHJ"  # kept
    assert background(page, ".notice") == ERROR_BACKGROUND

    page.get_by_label("Code").fill(flow["user_code"])
    page.get_by_role("button", name="Next").click()
    text = shoot(
        page, shots, "03-sign-in",
        "E2E Desk Lamp is asking to connect to your account.",
        "Sign in with your Contoso account to continue.",
    )  # fmt: skip
    assert "continue connecting" not in text

    sign_in(page, password="not-the-password")
    shoot(page, shots, "04-sign-in-error", "That username or password is not right.")
    assert page.get_by_label("Username").input_value() == USERNAME

    sign_in(page)
    shoot(
        page, shots, "05-confirm",
        "Connect a device?", "E2E Desk Lamp", flow["user_code"], "See your name and username",
        "See your availability", "Read your profile", "127.0.0.1", "in front of you",
    )  # fmt: skip
    approve, deny = (page.get_by_role("button", name=n).bounding_box() for n in ("Approve", "Deny"))
    assert approve and deny and abs(approve["width"] - deny["width"]) < 2  # equal weight
    assert abs(approve["height"] - deny["height"]) < 2
    page.get_by_role("button", name="Approve").click()
    shoot(
        page, shots, "06-approved",
        "Device approved", "return to your device", "See the devices signed in as you",
    )  # fmt: skip
    assert background(page, ".success") == SUCCESS_BACKGROUND
    assert poll_until_done(server, flow).status_code == 200

    page.goto(flow["verification_uri_complete"])
    page.get_by_role("button", name="Next").click()
    shoot(page, shots, "07-code-used", "Code already used", "Enter another code")

    denied = start_flow(server)
    page.goto(denied["verification_uri_complete"])
    page.get_by_role("button", name="Next").click()
    sign_in(page)
    page.get_by_role("button", name="Deny").click()
    shoot(page, shots, "08-denied", "Access denied", "will not be signed in")

    page.goto(f"{server.base_url}/contoso/oauth2/v2.0/logout")
    shoot(page, shots, "09-sign-out", "You are signed in as erin", "Devices you have connected")
    page.get_by_role("button", name="Sign out").click()
    shoot(page, shots, "10-signed-out", "You have signed out in this browser.")

    page.goto(f"{server.base_url}/no-such-page")
    shoot(page, shots, "11-not-found", "Error code:")

    page.context.clear_cookies()  # a form from a session that is gone
    page.goto(f"{server.base_url}/devicelogin")
    page.context.clear_cookies()
    page.get_by_label("Code").fill("BCDF-GHJK")
    page.get_by_role("button", name="Next").click()
    shoot(page, shots, "12-start-again", "Please start again", "did not come from this site")


def test_presence_pages_at_400_px(server: ServerProcess, page: Any, shots: Path) -> None:
    page.goto(f"{server.base_url}/presence")
    text = shoot(page, shots, "13-presence-sign-in", "Sign in to set the presence")
    assert "connecting the presence page" not in text and "your organisation" not in text
    sign_in(page)
    shoot(page, shots, "14-presence", "Signed in as Erin Example", "Available / Available")
    page.get_by_label("Availability").select_option("Busy")
    page.get_by_label("Activity").select_option("InACall")
    page.get_by_role("button", name="Save").click()
    shoot(page, shots, "15-presence-saved", "Saved.", "Busy / InACall")
    assert background(page, "[role=status]") == SUCCESS_BACKGROUND


def signed_in_device(server: ServerProcess, agent: str) -> None:
    """A device signed in as the e2e user, whose latest token request came from ``agent``."""
    flow = start_flow(server)
    approved = approve_over_http(
        server.base_url, flow["user_code"], username=USERNAME, password=PASSWORD
    )
    assert approved.status_code == 200, approved.text[:500]
    tokens = poll_until_done(server, flow)
    assert tokens.status_code == 200, tokens.text
    refreshed = httpx.post(
        f"{server.base_url}/contoso/oauth2/v2.0/token",
        data={"grant_type": "refresh_token", "client_id": CLIENT_ID,
              "refresh_token": tokens.json()["refresh_token"]},
        headers={"User-Agent": agent},
    )  # fmt: skip
    assert refreshed.status_code == 200, refreshed.text
    server.remember(refreshed.json().get("access_token"), refreshed.json().get("refresh_token"))


def test_your_devices_pages_at_400_px(server: ServerProcess, page: Any, shots: Path) -> None:
    long_agent = "LampOS/1.0 " + "x" * 150  # one unbroken word wider than the phone
    signed_in_device(server, long_agent)
    signed_in_device(server, "ThermoOS/2.0 (kitchen)")
    page.goto(f"{server.base_url}/devices")
    text = shoot(
        page, shots, "17-devices-sign-in",
        "Sign in to see the devices signed in as you, and to sign them out.",
    )  # fmt: skip
    assert "is asking to connect" not in text and "continue connecting" not in text
    sign_in(page, password="not-the-password")
    shoot(page, shots, "18-devices-sign-in-error", "That username or password is not right.")
    sign_in(page)
    shoot(
        page, shots, "19-devices",
        "Your devices", "Signed in as Erin Example",
        "These devices can use your account until you sign them out.",
        "E2E Desk Lamp", "Device software", long_agent, "ThermoOS/2.0 (kitchen)",
        "Last request from", "127.0.0.1", "Signed in", "Last used", "Sign out this device",
    )  # fmt: skip
    before = page.locator("section.device").count()
    assert before >= 2
    page.locator("section.device").filter(has_text="ThermoOS/2.0").get_by_role("button").click()
    text = shoot(
        page, shots, "20-devices-revoked",
        "E2E Desk Lamp is signed out. It must sign in again to use your account.", long_agent,
    )  # fmt: skip
    assert "ThermoOS/2.0" not in text
    assert page.locator("section.device").count() == before - 1
    assert background(page, "[role=status]") == "rgb(232, 245, 233)"  # .status, not an error
    while page.locator("section.device").count():
        page.locator("section.device").first.get_by_role("button").click()
        page.wait_for_load_state()
    shoot(page, shots, "21-devices-none", "No device is signed in as you.")


def test_favicon_is_served_to_the_browser(server: ServerProcess, page: Any) -> None:
    page.goto(f"{server.base_url}/devicelogin")
    icon = page.eval_on_selector("link[rel=icon]", "e => e.href")
    assert icon == f"{server.base_url}/favicon.ico"
    response = page.request.get(icon)
    assert response.status == 200
    assert response.headers["content-type"] == "image/vnd.microsoft.icon"
    assert "max-age" in response.headers["cache-control"]
    assert httpx.get(f"{server.base_url}/favicon.ico").content == response.body()


def test_confirm_page_with_the_network_warning_at_400_px(
    tmp_path_factory: pytest.TempPathFactory, page: Any, shots: Path
) -> None:
    folder = tmp_path_factory.mktemp("e2e-pages-proximity")
    config = e2e_config()
    config["tenants"][0]["proximity"] = "warn"
    config["trusted_proxies"] = ["127.0.0.1/32"]  # the device's request names its own address
    with serving(ServerProcess(folder=folder, config=write_config(folder, config))) as server:
        started = httpx.post(
            f"{server.base_url}/contoso/oauth2/v2.0/devicecode",
            data={"client_id": CLIENT_ID, "scope": "openid offline_access User.Read"},
            headers={"X-Forwarded-For": "198.51.100.7", "User-Agent": "Lamp/1.0 " + "x" * 150},
        )
        assert started.status_code == 200, started.text
        page.goto(started.json()["verification_uri_complete"])
        page.get_by_role("button", name="Next").click()
        sign_in(page)
        shoot(
            page, shots, "16-confirm-other-network",
            "Warning: this request came from a different network than yours.",
            "198.51.100.7", "Lamp/1.0",
        )  # fmt: skip
