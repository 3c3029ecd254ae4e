"""``login_command``: the ``deviceflow login`` a message suggests has exactly the flags it needs."""

from __future__ import annotations

from pathlib import Path

from deviceflow.cli.context import World, context_from_flags
from deviceflow.cli.hints import login_command
from deviceflow.cli.settings import remembered_values
from deviceflow.cli.state import ProfileState


def hint(tmp_path: Path, **flags: object) -> str:
    world = World(environ={"DEVICEFLOW_CACHE": str(tmp_path)}, home=tmp_path)
    return login_command(context_from_flags(flags, world))


def remember(tmp_path: Path, **flags: object) -> None:
    world = World(environ={"DEVICEFLOW_CACHE": str(tmp_path)}, home=tmp_path)
    settings = context_from_flags(flags, world).settings
    ProfileState(str(tmp_path), settings.profile).update(settings=remembered_values(settings))


def test_nothing_known_asks_for_a_client_id(tmp_path: Path) -> None:
    assert hint(tmp_path) == "deviceflow login --client-id ID"
    assert hint(tmp_path, profile="lab") == "deviceflow login --profile lab --client-id ID"


def test_flags_the_profile_remembers_are_left_out(tmp_path: Path) -> None:
    given = {"client_id": "app", "authority": "http://h.test/contoso", "graph_url": "http://h.test"}
    assert hint(tmp_path, **given) == (
        "deviceflow login --client-id app --authority http://h.test/contoso"
        " --graph-url http://h.test"
    )
    remember(tmp_path, **given)
    assert hint(tmp_path) == "deviceflow login"
    assert hint(tmp_path, **given) == "deviceflow login"
    # Another tenant in the same authority URL is not what the profile remembers.
    other = hint(tmp_path, authority="http://h.test/fabrikam")
    assert other == "deviceflow login --authority http://h.test/fabrikam"


def test_values_are_quoted_for_the_shell(tmp_path: Path) -> None:
    text = hint(tmp_path, client_id="app", scope=["User.Read Presence.Read"])
    assert text == "deviceflow login --client-id app --scope 'User.Read Presence.Read'"
