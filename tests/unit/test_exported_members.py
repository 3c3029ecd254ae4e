"""deviceflow's curated public API: a sorted __all__ that matches the public names."""

from __future__ import annotations

import types

import deviceflow


def _public_names(module: types.ModuleType) -> set[str]:
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }


def test_all_is_sorted() -> None:
    assert deviceflow.__all__ == sorted(deviceflow.__all__)


def test_all_matches_public_names() -> None:
    # The package resolves its public names on first use (PEP 562): resolve every one, and then
    # no public name other than those may be there.
    for name in deviceflow.__all__:
        getattr(deviceflow, name)
    assert set(deviceflow.__all__) - {"__version__"} == _public_names(deviceflow)
    assert set(deviceflow.__all__) <= set(dir(deviceflow))
    assert len(set(deviceflow.__all__)) == len(deviceflow.__all__)


def test_all_members_belong_to_deviceflow() -> None:
    for name in deviceflow.__all__:
        value = getattr(deviceflow, name)
        module = getattr(value, "__module__", "deviceflow")
        assert module.startswith("deviceflow"), f"{name} comes from {module}"
        if not name.startswith("_"):
            assert getattr(value, "__doc__", None), f"{name} has no docstring"
