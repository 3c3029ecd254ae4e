from __future__ import annotations

import pytest


def test_httpx_transports_without_httpx_give_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib
    import sys

    import deviceflow.transports as transports

    monkeypatch.setitem(sys.modules, "httpx", None)
    monkeypatch.delitem(sys.modules, "deviceflow.transports._httpx", raising=False)
    monkeypatch.delattr(transports, "_httpx", raising=False)
    with pytest.raises(ImportError, match=r"pip install 'deviceflow\[httpx\]'"):
        importlib.import_module("deviceflow.transports._httpx")
    with pytest.raises(ImportError, match="pip install"):
        transports.HttpxTransport  # noqa: B018
    with pytest.raises(AttributeError):
        transports.NoSuchTransport  # type: ignore[attr-defined]  # noqa: B018
