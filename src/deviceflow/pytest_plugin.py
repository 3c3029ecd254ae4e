"""deviceflow's pytest plugin: a real deviceflow server per test, steered by test control.

Registered through the ``pytest11`` entry point, so installing deviceflow (with its ``server``
extra) is all it takes; ``-p no:deviceflow`` turns it off. Fixtures (docs/testing.md):

- ``deviceflow_server``: a server speaking Microsoft's dialect over HTTPS, with the local CA
  trusted by ``requests``, ``httpx`` and ``urllib`` for the test's duration;
- ``deviceflow_server_factory``: ``factory(dialect="microsoft" | "rfc8628", tls=True,
  subprocess=False, **settings)`` for other setups (and several servers).

Servers run in the test process (uvicorn on a thread): starting one takes a few milliseconds
once the first has paid for the imports. This module stays small and imports the server only
when a fixture is used, because pytest loads it in every run where deviceflow is installed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from deviceflow.testing import DeviceFlowServer, ServerFactory


@pytest.fixture(scope="session")
def deviceflow_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's folder for test servers: the local CA (``tls/``), bundles, logs."""
    return tmp_path_factory.mktemp("deviceflow")


@pytest.fixture
def deviceflow_server_factory(
    deviceflow_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ServerFactory]:
    """Start deviceflow servers: ``factory(dialect="microsoft", tls=True, **settings)``.

    Every server the test started is stopped after it; the CA trust is undone too.
    """
    try:
        from deviceflow.testing import ServerFactory, trust_environment
    except ImportError as exc:  # pragma: no cover - the server extra is missing
        pytest.fail(f"deviceflow's test server needs: pip install 'deviceflow[server]' ({exc})")

    def trust(bundle: Path) -> None:
        for name, value in trust_environment(bundle).items():
            monkeypatch.setenv(name, value)

    factory = ServerFactory(deviceflow_folder, trust=trust)
    try:
        yield factory
    finally:
        factory.close()


@pytest.fixture
def deviceflow_server(deviceflow_server_factory: ServerFactory) -> DeviceFlowServer:
    """A running server: Microsoft dialect, HTTPS (its CA trusted), test control on.

    Attributes: ``authority``, ``issuer``, ``graph_url``, ``client_id``, ``username``,
    ``password``, ``ca_file``; methods: ``approve``, ``deny``, ``expire``, ``fail_next``,
    ``revoke_sessions``, ``demand_claims``, ``set_presence``, ``throttle_graph``.
    """
    return deviceflow_server_factory()
