from __future__ import annotations

import deviceflow
import deviceflow.transports as transports


def test_transports_all_names_resolve() -> None:
    assert transports.__all__ == sorted(transports.__all__)
    for name in transports.__all__:
        assert getattr(transports, name).__name__ == name


def test_client_and_transport_names_are_public_at_top_level() -> None:
    for name in (
        "AsyncDeviceFlowClient",
        "AsyncUrllibTransport",
        "DeviceFlowClient",
        "FlowCancelledError",
        "MockTransport",
        "UrllibTransport",
    ):
        assert name in deviceflow.__all__
        assert getattr(deviceflow, name) is getattr(
            transports if "Transport" in name else deviceflow.client, name
        )
