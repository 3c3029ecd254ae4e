"""Real receivers for the agent's notifiers: a webhook server, an SMTP server, an MQTT broker.

Each listens on a free 127.0.0.1 port, is started by the test and stopped by it (the broker by
its process id). What they receive is collected for the test to read.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from deviceflow.server.security import hash_password
from tests.support.serverproc import CLIENT_ID, PASSWORD, USERNAME
from tests.support.tools import free_port, require_tool

#: A confidential client (public client flows off): the device code request, without its secret,
#: answers AADSTS7000218 as Entra does.
CONFIDENTIAL_SECRET_HASH = hash_password("e2e-confidential-client-secret-0123456789")

__all__ = [
    "Broker",
    "Mailbox",
    "Webhook",
    "approve_code",
    "mosquitto",
    "server_config",
    "smtp_server",
    "wait_for",
    "webhook",
]


def server_config(
    folder: Path,
    *,
    lifetimes: str = "device_code = 600",
    fabrikam: str = "",
    contoso: str = "",
    erin: str = "",
    client: str = "",
) -> Path:
    """A server for the agent and doctor tests; each keyword adds TOML lines to one table.

    ``fabrikam`` speaks the Microsoft dialect (Entra's error shapes) and ``contoso`` the RFC one;
    refresh tokens stay valid after use, as on Entra, so one sign-in serves many refreshes.
    ``erin`` (fabrikam's user; contoso has another erin) signs in with ``PASSWORD``. ``blocked``
    (device flow off) and the confidential client ``confidential`` never change.
    """
    path = folder / "server.toml"
    path.write_text(
        f"""
interval = 1
refresh_rotation = "microsoft"

[lifetimes]
{lifetimes}

[[tenants]]
id = "fabrikam"
dialect = "microsoft"
verification_uri_complete = true
{fabrikam}

[[tenants]]
id = "contoso"
dialect = "rfc8628"
{contoso}

[[tenants]]
id = "blocked"
dialect = "microsoft"
device_flow = false

[[clients]]
client_id = "{CLIENT_ID}"
name = "E2E Presence Light"
scopes = ["openid", "profile", "offline_access", "User.Read", "Presence.Read"]
{client}

[[clients]]
client_id = "confidential"
public = false
secret_hash = "{CONFIDENTIAL_SECRET_HASH}"

[[users]]
username = "{USERNAME}"
password = "{PASSWORD}"
display_name = "Erin Example"
mail = "erin@fabrikam.example"
tenant = "fabrikam"
{erin}

[[users]]
username = "{USERNAME}"
password = "{PASSWORD}"
display_name = "Erin Example"
mail = "erin@contoso.example"
tenant = "contoso"
""",
        encoding="utf-8",
    )
    return path


def approve_code(
    browser: Any, verification_uri: str, user_code: str, *, deny: bool = False
) -> None:
    """Type ``user_code`` at ``verification_uri`` in Chromium; sign in as erin; approve or deny."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(verification_uri)
        page.get_by_label("Code").fill(user_code)
        page.get_by_role("button", name="Next").click()
        page.get_by_label("Username").fill(USERNAME)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("button", name="Deny" if deny else "Approve").click()
        page.wait_for_load_state()
    finally:
        context.close()


def wait_for(found: Callable[[], Any], timeout: float = 30.0, what: str = "it") -> Any:
    """Poll ``found`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = found()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class Webhook:
    """The JSON bodies POSTed to ``url``; the first ``failures`` requests get HTTP 503."""

    def __init__(self, failures: int = 0) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.failures = failures
        self.requests = 0
        self.url = ""


@contextmanager
def webhook(failures: int = 0) -> Iterator[Webhook]:
    hook = Webhook(failures)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            hook.requests += 1
            if hook.requests <= hook.failures:
                self.send_response(503)
            else:
                hook.bodies.append(json.loads(body))
                self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    hook.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()


class Mailbox:
    """Messages received by the SMTP server."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.url = ""


@contextmanager
def smtp_server() -> Iterator[Mailbox]:
    """A real SMTP server (aiosmtpd) on loopback."""
    from aiosmtpd.controller import Controller

    box = Mailbox()

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            box.messages.append(message_from_bytes(envelope.original_content))
            return "250 OK"

    port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    box.url = f"smtp://127.0.0.1:{port}"
    try:
        yield box
    finally:
        controller.stop()


class Broker:
    """A mosquitto broker and a subscriber collecting ``(topic, payload, retained)``."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.received: list[tuple[str, dict[str, Any], bool]] = []

    def url(self, topic: str) -> str:
        return f"mqtt://127.0.0.1:{self.port}/{topic}"


@contextmanager
def mosquitto(folder: Path, topic: str = "#") -> Iterator[Broker]:
    """Start ``mosquitto -p PORT`` (Debian's broker) and subscribe to ``topic``."""
    debian = Path("/usr/sbin/mosquitto")  # root's PATH has /usr/sbin; other users' may not
    executable = (
        str(debian) if debian.exists() else require_tool("mosquitto", "apt-get install mosquitto")
    )
    from paho.mqtt import client as mqtt

    port = free_port()
    config = folder / "mosquitto.conf"
    config.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    log = open(folder / "mosquitto.log", "wb")
    process = subprocess.Popen([executable, "-c", str(config)], stdout=log, stderr=log)
    broker = Broker(port)
    subscriber = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)

    def on_message(client: Any, userdata: Any, message: Any) -> None:
        broker.received.append((message.topic, json.loads(message.payload), bool(message.retain)))

    subscriber.on_message = on_message
    try:
        wait_for(lambda: _connects(subscriber, port), what="mosquitto to listen")
        subscriber.subscribe(topic, qos=1)
        subscriber.loop_start()
        yield broker
    finally:
        subscriber.loop_stop()
        subscriber.disconnect()
        process.terminate()
        process.wait(10)
        log.close()


def _connects(client: Any, port: int) -> bool:
    try:
        client.connect("127.0.0.1", port)
    except OSError:
        return False
    return True
