"""Test apps against a real deviceflow server: in-process servers with a test-control API.

With pytest, the ``deviceflow`` plugin (registered when deviceflow is installed with its
``server`` extra) gives the fixtures ``deviceflow_server`` and ``deviceflow_server_factory``;
see ``docs/testing.md``. Elsewhere (unittest, scripts), :func:`serve` does the same::

    with deviceflow.testing.serve() as server:
        app = msal.PublicClientApplication(server.client_id, authority=server.authority,
                                           instance_discovery=False)
        flow = app.initiate_device_flow(["User.Read"])
        server.approve(flow["user_code"])
        result = app.acquire_token_by_device_flow(flow)
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from deviceflow.testing._config import (
    AZURE_CLI_CLIENT_ID,
    CLIENT_ID,
    DISPLAY_NAME,
    PASSWORD,
    SCOPES,
    TENANT,
    TENANT_GUID,
    USERNAME,
    server_config,
)
from deviceflow.testing._server import (
    DeviceFlowServer,
    ServerControlError,
    start_in_thread,
    start_subprocess,
)
from deviceflow.testing._trust import TRUST_VARIABLES, trust_environment, trusting, write_bundle

__all__ = [
    "AZURE_CLI_CLIENT_ID",
    "CLIENT_ID",
    "DISPLAY_NAME",
    "PASSWORD",
    "SCOPES",
    "TENANT",
    "TENANT_GUID",
    "TRUST_VARIABLES",
    "USERNAME",
    "DeviceFlowServer",
    "ServerControlError",
    "ServerFactory",
    "serve",
    "server_config",
    "trust_environment",
]


class ServerFactory:
    """Starts test servers, and stops them all in :meth:`close`.

    Every TLS server's certificate comes from one local CA in ``folder/tls``; when the first
    starts, ``trust`` is called with a CA bundle (the public CAs plus that CA) for the process
    to trust (the pytest fixture sets ``REQUESTS_CA_BUNDLE`` and ``SSL_CERT_FILE`` for the
    test's duration).
    """

    def __init__(self, folder: Path, *, trust: Callable[[Path], None] | None = None) -> None:
        self.folder = folder
        self._trust = trust
        self._trusted = False
        self._servers: list[DeviceFlowServer] = []

    def __call__(
        self,
        dialect: str = "microsoft",
        tls: bool = True,
        *,
        subprocess: bool = False,
        **settings: Any,
    ) -> DeviceFlowServer:
        """Start a server.

        Args:
            dialect: ``"microsoft"`` (Entra's wire format) or ``"rfc8628"``.
            tls: serve HTTPS (from the local CA) rather than plain HTTP.
            subprocess: run ``deviceflow serve`` in a child process instead of a thread.
            settings: top-level configuration keys replacing the defaults
                (``interval=5``, ``lifetimes={"access_token": 600}``, ``users=[...]``; see
                ``docs/configuration.md``).

        Returns:
            The running server's handle.

        Raises:
            ValueError: an unknown dialect.
            SettingsError: invalid settings.
            RuntimeError: the server did not start.
        """
        config = server_config(dialect, **settings)
        if subprocess:
            folder = Path(tempfile.mkdtemp(prefix="server-", dir=self.folder))
            server = start_subprocess(
                config, folder=folder, data_dir=self.folder, tls=tls, dialect=dialect
            )
        else:
            tls_folder = self.folder / "tls" if tls else None
            server = start_in_thread(config, tls_folder=tls_folder, dialect=dialect)
        self._servers.append(server)
        if server.ca_file is not None and not self._trusted and self._trust is not None:
            self._trust(write_bundle(server.ca_file, self.folder / "ca-bundle.pem"))
            self._trusted = True
        return server

    def close(self) -> None:
        """Stop every server this factory started."""
        while self._servers:
            self._servers.pop().stop()


@contextmanager
def serve(
    dialect: str = "microsoft", tls: bool = True, **settings: Any
) -> Iterator[DeviceFlowServer]:
    """A running test server for the block, trusted by this process while it runs.

    Arguments as :meth:`ServerFactory.__call__`. Changes ``os.environ`` (``REQUESTS_CA_BUNDLE``,
    ``SSL_CERT_FILE``) for the block.

    Raises:
        ValueError, SettingsError, RuntimeError: as :meth:`ServerFactory.__call__`.
    """
    with tempfile.TemporaryDirectory(prefix="deviceflow-test-") as folder:
        factory = ServerFactory(Path(folder))
        try:
            server = factory(dialect, tls, **settings)
            bundle = Path(folder) / "ca-bundle.pem"
            if server.ca_file is not None:
                write_bundle(server.ca_file, bundle)
                with trusting(bundle):
                    yield server
            else:
                yield server
        finally:
            factory.close()
