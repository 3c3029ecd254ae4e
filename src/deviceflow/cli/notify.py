"""How ``deviceflow agent`` tells the owner that a device needs them: command, webhook, MQTT, mail.

Every notifier gets the same :class:`Notice`: the event (``code``: a sign-in is needed, here is
the code; ``relinked``; ``error`` with a plain reason), the user code and verification URIs, the
code's expiry (ISO 8601) and the profile. Nothing else leaves the device: never a token, a device
code or a password (an SMTP or MQTT password in a URL is used to log in, and never printed).

A failing notifier is reported on stderr and the others still run: one dead webhook must not keep
the code from the owner's phone. Webhooks are retried; MQTT messages are published with QoS 1 and
*retained* (a Home Assistant sensor then shows the current code, and ``relinked`` replaces it).
"""

from __future__ import annotations

import json
import os
import shlex
import smtplib
import socket
import ssl
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from typing import TYPE_CHECKING, Protocol
from urllib.parse import unquote, urlsplit

from deviceflow.cli.debug import redact_url
from deviceflow.cli.errors import UsageError

if TYPE_CHECKING:
    from deviceflow.transports.base import Transport

__all__ = ["Notice", "Notifier", "build_notifiers", "deliver"]

#: Seconds between webhook attempts (three attempts in all).
WEBHOOK_RETRY_DELAYS = (1.0, 3.0)
_TIMEOUT = 15.0


@dataclass(frozen=True)
class Notice:
    """What every notifier sends (field names as in the JSON body)."""

    event: str
    profile: str
    user_code: str = ""
    verification_uri: str = ""
    verification_uri_complete: str = ""
    expires_at: str = ""
    reason: str = ""

    def fields(self) -> dict[str, str]:
        """The JSON object (lower-case names; ``reason`` only on ``error``)."""
        body = {
            "event": self.event,
            "user_code": self.user_code,
            "verification_uri": self.verification_uri,
            "verification_uri_complete": self.verification_uri_complete,
            "expires_at": self.expires_at,
            "profile": self.profile,
        }
        if self.reason:
            body["reason"] = self.reason
        return body

    def text(self) -> str:
        """One human sentence (mail body, logs)."""
        if self.event == "code":
            where = self.verification_uri_complete or self.verification_uri
            return (
                f"Device profile {self.profile!r} needs a sign-in: open {where} and enter the"
                f" code {self.user_code} (valid until {self.expires_at})."
            )
        if self.event == "relinked":
            return f"Device profile {self.profile!r} is signed in again."
        return f"Device profile {self.profile!r}: {self.reason or 'an error occurred'}."


class Notifier(Protocol):
    """One destination: :meth:`send` raises on failure (:func:`deliver` reports it)."""

    kind: str
    target: str

    def send(self, notice: Notice) -> None:
        """Deliver ``notice``.

        Raises:
            Exception: any failure (a notifier's own kind: subprocess, HTTP, MQTT, SMTP).
        """


class CommandNotifier:
    """``--notify-command CMD``: run ``CMD`` (split like a shell would) with ``DEVICEFLOW_*``."""

    kind = "command"

    def __init__(self, target: str, *, environ: Mapping[str, str]) -> None:
        self.target = target
        try:
            self.argv = shlex.split(target)
        except ValueError as exc:
            raise UsageError(f"--notify-command {target!r} does not parse: {exc}") from exc
        if not self.argv:
            raise UsageError("--notify-command is empty")
        self.environ = environ

    def send(self, notice: Notice) -> None:
        env = dict(self.environ)
        env.update({f"DEVICEFLOW_{k.upper()}": v for k, v in notice.fields().items()})
        env.setdefault("DEVICEFLOW_REASON", notice.reason)
        done = subprocess.run(
            self.argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=60
        )
        if done.returncode != 0:
            tail = done.stderr.decode(errors="replace").strip().splitlines()[-1:]
            raise RuntimeError(f"exit status {done.returncode}{': ' + tail[0] if tail else ''}")


class WebhookNotifier:
    """``--notify-webhook URL``: POST the JSON object; retried on failures and non-2xx answers."""

    kind = "webhook"

    def __init__(
        self, target: str, *, transport: Transport, sleep: Callable[[float], None]
    ) -> None:
        self.target = target
        if urlsplit(target).scheme not in ("http", "https"):
            raise UsageError(f"--notify-webhook must be an http(s) URL, not {target!r}")
        self.transport = transport
        self.sleep = sleep

    def send(self, notice: Notice) -> None:
        from deviceflow.core import HttpRequest
        from deviceflow.errors import TransportError

        request = HttpRequest(
            method="POST",
            url=self.target,
            headers={"Content-Type": "application/json", "User-Agent": "deviceflow-agent"},
            body=json.dumps(notice.fields()).encode(),
        )
        problem = ""
        for delay in (*WEBHOOK_RETRY_DELAYS, None):
            try:
                status = self.transport.handle_request(request, timeout=_TIMEOUT).status
            except TransportError as exc:
                problem = str(exc)
            else:
                if 200 <= status < 300:
                    return
                problem = f"HTTP {status}"
            if delay is not None:
                self.sleep(delay)
        raise RuntimeError(problem)


class MqttNotifier:
    """``--notify-mqtt mqtt[s]://[user:password@]host[:port]/topic``: publish, QoS 1, retained."""

    kind = "mqtt"

    def __init__(self, target: str) -> None:
        self.target = target
        parts = urlsplit(target)
        topic = unquote(parts.path.lstrip("/"))
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname or not topic:
            raise UsageError(
                f"--notify-mqtt must look like mqtt://host:1883/topic or mqtts://..., not"
                f" {redact_url(target)!r}"
            )
        self.tls = parts.scheme == "mqtts"
        self.host = parts.hostname
        self.port = parts.port or (8883 if self.tls else 1883)
        self.topic = topic
        self.auth = (
            (unquote(parts.username), unquote(parts.password or "")) if parts.username else None
        )

    def send(self, notice: Notice) -> None:
        try:
            from paho.mqtt import client as mqtt
            from paho.mqtt.enums import CallbackAPIVersion
        except ImportError as exc:
            raise RuntimeError(
                "the MQTT notifier needs paho-mqtt: pip install 'deviceflow[mqtt]'"
            ) from exc
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"deviceflow-{socket.gethostname()}-{os.getpid()}",
        )
        if self.auth is not None:
            client.username_pw_set(*self.auth)
        if self.tls:
            client.tls_set_context(ssl.create_default_context())
        client.connect(self.host, self.port, keepalive=int(_TIMEOUT) * 2)
        client.loop_start()
        try:
            sent = client.publish(self.topic, json.dumps(notice.fields()), qos=1, retain=True)
            sent.wait_for_publish(timeout=_TIMEOUT)
            if not sent.is_published():
                raise RuntimeError("the broker did not acknowledge the message")
        finally:
            client.disconnect()
            client.loop_stop()


class EmailNotifier:
    """``--notify-email ADDRESS``: a short plain-text mail through the ``--smtp`` server."""

    kind = "email"

    def __init__(self, target: str, *, smtp: str | None) -> None:
        self.target = target
        if "@" not in target or any(c in target for c in " \r\n<>"):
            raise UsageError(f"--notify-email must be an e-mail address, not {target!r}")
        server = urlsplit(smtp or "smtp://localhost:25")
        if server.scheme not in ("smtp", "smtps") or not server.hostname:
            raise UsageError("--smtp must look like smtp://host:25 or smtps://user:pw@host:465")
        self.server = server

    def send(self, notice: Notice) -> None:
        server = self.server
        sender = f"deviceflow@{socket.gethostname()}"
        message = EmailMessage()
        message["From"] = sender
        message["To"] = self.target
        subject = {"code": f"Sign-in code {notice.user_code}", "relinked": "Signed in again"}
        message["Subject"] = (
            f"deviceflow: {subject.get(notice.event, 'problem')} ({notice.profile})"
        )
        lines = [notice.text(), ""] + [f"{k}: {v}" for k, v in notice.fields().items()]
        message.set_content("\n".join(lines) + "\n")
        port = server.port or (465 if server.scheme == "smtps" else 25)
        host = server.hostname or "localhost"
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if server.scheme == "smtps":
            smtp = smtplib.SMTP_SSL(host, port, timeout=_TIMEOUT, context=context)
        else:
            smtp = smtplib.SMTP(host, port, timeout=_TIMEOUT)
        with smtp:
            if server.scheme == "smtp" and smtp.has_extn("starttls"):
                smtp.starttls(context=context)
            if server.username:
                smtp.login(unquote(server.username), unquote(server.password or ""))
            smtp.send_message(message, from_addr=sender, to_addrs=[self.target])


def build_notifiers(
    pairs: Sequence[tuple[str, str]],
    *,
    environ: Mapping[str, str],
    transport: Transport,
    sleep: Callable[[float], None],
    smtp: str | None,
) -> list[Notifier]:
    """The notifiers for the settings' ``(kind, target)`` pairs.

    Raises:
        UsageError: a target is malformed (checked at start, not when the code is due).
    """
    made: list[Notifier] = []
    for kind, target in pairs:
        if kind == "command":
            made.append(CommandNotifier(target, environ=environ))
        elif kind == "webhook":
            made.append(WebhookNotifier(target, transport=transport, sleep=sleep))
        elif kind == "mqtt":
            made.append(MqttNotifier(target))
        else:
            made.append(EmailNotifier(target, smtp=smtp))
    return made


def deliver(notifiers: Sequence[Notifier], notice: Notice, log: Callable[[str], None]) -> int:
    """Send ``notice`` through every notifier; return how many succeeded (failures are logged)."""
    sent = 0
    for notifier in notifiers:
        try:
            notifier.send(notice)
        except Exception as exc:  # one broken notifier must not silence the others
            log(f"{notifier.kind} notifier {redact_url(notifier.target)} failed: {exc}")
        else:
            sent += 1
    return sent
