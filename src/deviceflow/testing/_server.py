"""A running test server, and the handle a test steers it with.

In process (the default): the app of :func:`deviceflow.server.app.create_app` on memory storage,
served by uvicorn on a thread of its own from a socket bound to a free loopback port, so a
server is up in a fraction of a second. As a subprocess (when a test asks): ``python -m
deviceflow serve --test-control`` with the same configuration written to a TOML file.

:class:`DeviceFlowServer` is the handle either way: where the server is (``authority``,
``issuer``, ``graph_url``, ...), who signs in (``client_id``, ``username``, ``password``), and
the test-control API as methods (``approve``, ``fail_next``, ...), sent over HTTP with the
server's token.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn

from deviceflow.testing._config import (
    CLIENT_ID,
    PASSWORD,
    TENANT,
    TENANT_GUID,
    USERNAME,
    settings_for,
    toml_text,
)

_START_TIMEOUT = 30.0


class ServerControlError(Exception):
    """The test-control API refused a request (the message is its error description)."""

    def __init__(self, message: str, *, status: int, error: str) -> None:
        super().__init__(message)
        self.status = status
        self.error = error


@dataclass
class DeviceFlowServer:
    """A running deviceflow server and its test-control API.

    Attributes:
        base_url: ``https://127.0.0.1:PORT`` (``http`` without TLS).
        authority: the tenant's authority for MSAL and deviceflow (``{base_url}/contoso``).
        issuer: ``iss`` of its tokens (``{base_url}/{tenant GUID}/v2.0``).
        graph_url: where its Graph emulation answers (the same host).
        client_id: a public client allowed the device flow (scopes: :data:`SCOPES`).
        username, password: the tenant's user (for the verification page).
        ca_file: the local CA's certificate (PEM), or None without TLS.
        token: the test-control token.
    """

    base_url: str
    token: str
    ca_file: Path | None
    dialect: str = "microsoft"
    tenant: str = TENANT
    tenant_guid: str = TENANT_GUID
    client_id: str = CLIENT_ID
    username: str = USERNAME
    password: str = PASSWORD
    _stop: Callable[[], None] = field(default=lambda: None, repr=False)
    _opener: urllib.request.OpenerDirector | None = field(default=None, repr=False)

    @property
    def authority(self) -> str:
        """The tenant's authority: ``{base_url}/{tenant}``."""
        return f"{self.base_url}/{self.tenant}"

    @property
    def issuer(self) -> str:
        """The ``iss`` of this server's tokens (and its discovery document's issuer)."""
        return f"{self.base_url}/{self.tenant_guid}/v2.0"

    @property
    def graph_url(self) -> str:
        """The Graph emulation's base URL (``{graph_url}/v1.0/me``)."""
        return self.base_url

    # -- test control ----------------------------------------------------------------------

    def approve(self, user_code: str, username: str | None = None) -> None:
        """Approve the request behind ``user_code`` as ``username`` (default: :attr:`username`).

        Raises:
            ServerControlError: unknown, expired or already decided code; unknown user.
        """
        self.control("approve", {"user_code": user_code, "username": username or self.username})

    def deny(self, user_code: str, username: str | None = None) -> None:
        """Deny the request behind ``user_code`` (its polls answer ``access_denied``).

        Raises:
            ServerControlError: unknown, expired or already decided code.
        """
        self.control("deny", {"user_code": user_code, "username": username or self.username})

    def expire(self, user_code: str) -> None:
        """End the lifetime of the request behind ``user_code`` now (``expired_token``).

        Raises:
            ServerControlError: no request holds that code.
        """
        self.control("expire", {"user_code": user_code})

    def fail_next(
        self,
        error: str | None = None,
        *,
        count: int = 1,
        status: int = 400,
        aadsts: int | None = None,
        retry_after: int | None = None,
        client_id: str | None = None,
        description: str | None = None,
    ) -> None:
        """Answer the next ``count`` token requests (of ``client_id``, or any) with an error.

        Args:
            error: the OAuth ``error`` (``authorization_pending``, ``slow_down``,
                ``invalid_grant`` ...); may be left out when ``aadsts`` is given.
            count: how many answers.
            status: the HTTP status (400; 429 or 5xx for an outage).
            aadsts: an AADSTS number (Microsoft dialect): 50076 (MFA required), 65001
                (consent), 53003 (blocked by Conditional Access), 700082 (idle expiry) ...
            retry_after: a ``Retry-After`` header, in seconds.
            client_id: only requests of this client.
            description: the ``error_description`` (for errors the server has no text for).

        Raises:
            ServerControlError: invalid arguments.
        """
        body: dict[str, Any] = {"count": count, "status": status}
        optional = {
            "error": error,
            "aadsts": aadsts,
            "retry_after": retry_after,
            "client_id": client_id,
            "description": description,
        }
        body.update({k: v for k, v in optional.items() if v is not None})
        self.control("fail-next", body)

    def revoke_sessions(self, username: str | None = None) -> str:
        """Revoke a user's sign-ins: refresh tokens stop working, and Graph answers older
        access tokens with a claims challenge. Returns the challenge's claims (JSON)."""
        answer = self.control("revoke-sessions", {"username": username or self.username})
        return str(answer["claims"])

    def demand_claims(
        self, claims: dict[str, Any] | None = None, username: str | None = None
    ) -> str:
        """Make Graph answer a user's access tokens that lack ``claims`` (default: issued from
        now on) with a claims challenge. Returns the claims (JSON)."""
        body: dict[str, Any] = {"username": username or self.username}
        if claims is not None:
            body["claims"] = claims
        return str(self.control("demand-claims", body)["claims"])

    def set_presence(self, availability: str, activity: str, username: str | None = None) -> None:
        """Set what Graph's presence endpoints report for a user.

        Raises:
            ServerControlError: an availability Graph does not have.
        """
        body = {"username": username or self.username, "availability": availability}
        self.control("presence", {**body, "activity": activity})

    def throttle_graph(self, count: int = 1, retry_after: int = 1) -> None:
        """Make Graph answer the next ``count`` calls with 429 and ``Retry-After``."""
        self.control("throttle-graph", {"count": count, "retry_after": retry_after})

    def reset(self) -> None:
        """Forget queued token failures and Graph throttling."""
        self.control("reset", {})

    def control(self, action: str, body: dict[str, Any] | None) -> dict[str, Any]:
        """Send one test-control request (``POST``, or ``GET`` without a ``body``).

        Raises:
            ServerControlError: the API refused it.
        """
        url = f"{self.base_url}/test-control" + (f"/{action}" if action else "")
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            url,
            data=data,
            method="GET" if body is None else "POST",
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        try:
            with self._open(request) as response:
                answer: dict[str, Any] = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            payload = json.loads(exc.read() or b"{}")
            raise ServerControlError(
                f"{action}: {payload.get('error_description', exc.reason)}",
                status=exc.code,
                error=str(payload.get("error", "")),
            ) from None
        return answer

    def status(self) -> dict[str, Any]:
        """What is queued (token failures, Graph throttling)."""
        return self.control("", None)

    def _open(self, request: urllib.request.Request) -> Any:
        if self._opener is None:
            context = ssl.create_default_context(cafile=self.ca_file) if self.ca_file else None
            self._opener = urllib.request.build_opener(
                urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context)
            )
        return self._opener.open(request, timeout=30)

    def stop(self) -> None:
        """Stop the server (the factory does it at the end of the test)."""
        self._stop()
        self._stop = lambda: None


class _Server(uvicorn.Server):
    """uvicorn's server, dropping client connections at once when it stops: a test's clients
    keep idle TLS connections, which a graceful close would wait for (or leave unclosed)."""

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for connection in list(self.server_state.connections):
            connection.transport.abort()
        await super().shutdown(sockets)


def _listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def _wait(until: Callable[[], bool], alive: Callable[[], bool], why: Callable[[], str]) -> None:
    deadline = time.monotonic() + _START_TIMEOUT
    while not until():
        if not alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the deviceflow test server did not start: {why()}")
        time.sleep(0.002)


def start_in_thread(
    config: dict[str, Any], *, tls_folder: Path | None, dialect: str
) -> DeviceFlowServer:
    """Serve ``config`` from this process (uvicorn on its own thread); return the handle.

    Raises:
        RuntimeError: the server did not start.
        SettingsError: the configuration is invalid.
    """
    from deviceflow.server.app import create_app
    from deviceflow.server.serving import uvicorn_options
    from deviceflow.server.storage import open_storage
    from deviceflow.server.tls import local_ca

    sock = _listening_socket()
    port = sock.getsockname()[1]
    scheme = "https" if tls_folder is not None else "http"
    base_url = f"{scheme}://127.0.0.1:{port}"
    token = secrets.token_urlsafe(24)
    settings = dataclasses.replace(
        settings_for(config), public_url=base_url, test_control_token=token
    )
    tls = local_ca(tls_folder, "127.0.0.1", clock=time.time) if tls_folder else None
    storage = open_storage("memory:")
    app = create_app(settings, storage=storage, clock=time.time, rng=secrets.token_bytes)
    options: dict[str, Any] = {**uvicorn_options(), "loop": "asyncio"}
    if tls is not None:
        options.update(ssl_certfile=str(tls.certfile), ssl_keyfile=str(tls.keyfile))
    server = _Server(uvicorn.Config(app, **options))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="deviceflow-test-server", daemon=True
    )
    thread.start()

    def stop() -> None:
        server.should_exit = True
        thread.join(_START_TIMEOUT)
        sock.close()
        storage.close()

    try:
        _wait(lambda: server.started, thread.is_alive, lambda: "see the log above")
    except RuntimeError:
        stop()
        raise
    return DeviceFlowServer(
        base_url=base_url,
        token=token,
        ca_file=tls.ca if tls is not None else None,
        dialect=dialect,
        _stop=stop,
    )


def start_subprocess(
    config: dict[str, Any], *, folder: Path, data_dir: Path, tls: bool, dialect: str
) -> DeviceFlowServer:
    """Serve ``config`` with ``python -m deviceflow serve`` in a child process.

    Its configuration file and output are in ``folder``; with ``tls``, the local CA is
    ``data_dir/tls`` (the server's own choice for ``--tls``).

    Raises:
        RuntimeError: the server did not start.
    """
    with _listening_socket() as probe:
        port = probe.getsockname()[1]
    (folder / "server.toml").write_text(toml_text(config))
    token = secrets.token_urlsafe(24)
    env = {
        **os.environ,
        "DEVICEFLOW_TEST_CONTROL_TOKEN": token,
        "DEVICEFLOW_DATA_DIR": str(data_dir),
    }
    command = [sys.executable, "-m", "deviceflow", "serve", "--port", str(port)]
    command += ["--config", str(folder / "server.toml"), "--db", "memory:", "--test-control"]
    command += ["--tls"] if tls else []
    log = (folder / "server.log").open("wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)

    def output() -> str:
        return (folder / "server.log").read_text(errors="replace")

    def listening() -> bool:
        return "deviceflow server listening on" in output()

    def stop() -> None:
        process.terminate()
        try:
            process.wait(_START_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()

    try:
        _wait(listening, lambda: process.poll() is None, output)
    except RuntimeError:
        stop()
        raise
    scheme = "https" if tls else "http"
    return DeviceFlowServer(
        base_url=f"{scheme}://127.0.0.1:{port}",
        token=token,
        ca_file=data_dir / "tls" / "ca.pem" if tls else None,
        dialect=dialect,
        _stop=stop,
    )
