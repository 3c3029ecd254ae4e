"""The sync and async drivers must differ only by ``async``/``await`` (STYLE §11).

Instead of generating one from the other, both are short and written out; this test is the
``--check``: each method of the async client, with the async spellings replaced, must equal the
sync client's method character for character.
"""

from __future__ import annotations

import inspect

import pytest

from deviceflow.client import AsyncDeviceFlowClient, DeviceFlowClient

SPELLINGS = [
    ("async def ", "def "),
    ("await ", ""),
    ("handle_async_request", "handle_request"),
    ("aclose", "close"),
    ("__aenter__", "__enter__"),
    ("__aexit__", "__exit__"),
    ("AsyncDeviceFlowClient", "DeviceFlowClient"),
]
# __init__ differs on purpose (default transport and sleep); everything else must match.
METHODS = sorted(set(vars(AsyncDeviceFlowClient)) - {"__init__", "__doc__", "__module__"})


def unasync(source: str) -> str:
    for async_spelling, sync_spelling in SPELLINGS:
        source = source.replace(async_spelling, sync_spelling)
    return source


def test_client_drift_same_method_names() -> None:
    sync_methods = sorted(set(vars(DeviceFlowClient)) - {"__init__", "__doc__", "__module__"})
    assert sorted(unasync(name) for name in METHODS) == sync_methods


@pytest.mark.parametrize("name", METHODS)
def test_client_drift_method_matches_sync_twin(name: str) -> None:
    async_source = inspect.getsource(getattr(AsyncDeviceFlowClient, name))
    sync_source = inspect.getsource(getattr(DeviceFlowClient, unasync(name)))
    assert unasync(async_source) == sync_source
