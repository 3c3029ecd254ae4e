from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from deviceflow.cli.errors import UsageError
from deviceflow.cli.settings import (
    DEFAULT_SCOPES,
    OIDC_SCOPES,
    config_path,
    read_config,
    remembered_values,
    resolve_settings,
    split_authority,
)

HOME = Path("/home/u")

CONFIG = """
[DEFAULT]
client_id = from-config-default

[work]
tenant = contoso.example
scope = User.Read Presence.Read offline_access
graph_url = http://graph.test/

[lab]
issuer = https://id.lab.example/
client_id = iot-device
"""


def test_defaults_are_microsoft_organizations() -> None:
    s = resolve_settings({}, {}, home=HOME)
    assert s.profile == "default"
    assert s.client_id is None
    assert s.issuer is None
    assert (s.authority, s.tenant) == ("https://login.microsoftonline.com", "organizations")
    assert s.scopes == DEFAULT_SCOPES == ("User.Read", "offline_access", "openid", "profile")
    assert s.graph_url == "https://graph.microsoft.com"
    assert Path(s.cache_dir) == HOME / ".local/state/deviceflow"
    assert s.resource is None


def test_flags_beat_environment_beat_config() -> None:
    env = {"DEVICEFLOW_CLIENT_ID": "from-env", "DEVICEFLOW_TENANT": "env-tenant"}
    s = resolve_settings({"client_id": "from-flag"}, env, config_text=CONFIG, home=HOME)
    assert s.client_id == "from-flag"
    assert s.tenant == "env-tenant"
    s = resolve_settings({}, env, config_text=CONFIG, home=HOME)
    assert s.client_id == "from-env"
    s = resolve_settings({}, {}, config_text=CONFIG, home=HOME)
    assert s.client_id == "from-config-default"


def test_profile_section_from_flag_or_environment() -> None:
    s = resolve_settings({"profile": "work"}, {}, config_text=CONFIG, home=HOME)
    assert (s.profile, s.tenant, s.client_id) == ("work", "contoso.example", "from-config-default")
    assert s.scopes == ("User.Read", "Presence.Read", "offline_access")
    assert s.graph_url == "http://graph.test"
    s = resolve_settings({}, {"DEVICEFLOW_PROFILE": "lab"}, config_text=CONFIG, home=HOME)
    assert (s.profile, s.issuer, s.client_id) == ("lab", "https://id.lab.example", "iot-device")
    assert s.scopes == OIDC_SCOPES


def test_repeated_scope_flags_are_split_and_deduplicated() -> None:
    s = resolve_settings(
        {"scope": ["User.Read Mail.Read", "User.Read,Presence.Read"]}, {}, home=HOME
    )
    assert s.scopes == ("User.Read", "Mail.Read", "Presence.Read")
    s = resolve_settings({"scope": []}, {"DEVICEFLOW_SCOPE": "a b"}, home=HOME)
    assert s.scopes == ("a", "b")


def test_authority_url_carries_tenant_unless_tenant_given() -> None:
    s = resolve_settings({"authority": "http://127.0.0.1:8000/contoso/"}, {}, home=HOME)
    assert (s.authority, s.tenant) == ("http://127.0.0.1:8000", "contoso")
    s = resolve_settings(
        {"authority": "http://127.0.0.1:8000/contoso", "tenant": "fabrikam"}, {}, home=HOME
    )
    assert s.tenant == "fabrikam"


def test_issuer_flag_overrides_tenant_from_environment() -> None:
    s = resolve_settings({"issuer": "http://idp"}, {"DEVICEFLOW_TENANT": "x"}, home=HOME)
    assert s.issuer == "http://idp"
    s = resolve_settings({"tenant": "x"}, {"DEVICEFLOW_ISSUER": "http://idp"}, home=HOME)
    assert s.issuer is None and s.tenant == "x"


def test_issuer_and_tenant_in_the_same_layer_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match=r"--issuer cannot be combined.*\(flags\)"):
        resolve_settings({"issuer": "http://idp", "tenant": "x"}, {}, home=HOME)
    with pytest.raises(UsageError, match="environment"):
        resolve_settings(
            {}, {"DEVICEFLOW_ISSUER": "http://i", "DEVICEFLOW_AUTHORITY": "http://a"}, home=HOME
        )


@pytest.mark.parametrize("bad", ["idp.example", "ftp://x/y", "https://"])
def test_malformed_urls_are_usage_errors(bad: str) -> None:
    with pytest.raises(UsageError, match="http"):
        resolve_settings({"issuer": bad}, {}, home=HOME)
    with pytest.raises(UsageError):
        resolve_settings({"authority": bad}, {}, home=HOME)


def test_invalid_profile_name_is_usage_error() -> None:
    with pytest.raises(UsageError, match="invalid profile name"):
        resolve_settings({"profile": "../x"}, {}, home=HOME)


def test_cache_dir_from_flag_environment_and_xdg(tmp_path: Path) -> None:
    s = resolve_settings({"cache": str(tmp_path)}, {"DEVICEFLOW_CACHE": "/env"}, home=HOME)
    assert Path(s.cache_dir) == tmp_path
    assert resolve_settings({}, {"DEVICEFLOW_CACHE": "/env"}, home=HOME).cache_dir == "/env"
    s = resolve_settings({}, {"XDG_STATE_HOME": "/state"}, home=HOME)
    assert Path(s.cache_dir) == Path("/state/deviceflow")


def test_resource_and_graph_url_from_environment() -> None:
    env = {
        "DEVICEFLOW_RESOURCE": "https://graph.microsoft.com",
        "DEVICEFLOW_GRAPH_URL": "http://g/",
    }
    s = resolve_settings({}, env, home=HOME)
    assert (s.resource, s.graph_url) == ("https://graph.microsoft.com", "http://g")


def test_config_errors_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="not valid"):
        resolve_settings({}, {}, config_text="no section header", home=HOME)
    with pytest.raises(UsageError, match="unknown setting.*colour"):
        resolve_settings({}, {}, config_text="[DEFAULT]\ncolour = red\n", home=HOME)


def test_config_path_and_read(tmp_path: Path) -> None:
    assert Path(config_path({}, HOME)) == HOME / ".config/deviceflow/config.ini"
    assert config_path({"XDG_CONFIG_HOME": "/cfg"}, HOME) == "/cfg/deviceflow/config.ini"
    assert config_path({"DEVICEFLOW_CLI_CONFIG": "/x.ini"}, HOME) == "/x.ini"
    assert read_config(tmp_path / "missing.ini") == ""
    (tmp_path / "c.ini").write_text("[DEFAULT]\n")
    assert read_config(tmp_path / "c.ini") == "[DEFAULT]\n"
    with pytest.raises(UsageError, match="cannot read"):
        read_config(tmp_path)


def test_split_authority() -> None:
    assert split_authority("https://login.microsoftonline.com") == (
        "https://login.microsoftonline.com",
        None,
    )
    assert split_authority("http://h:1/base/t") == ("http://h:1/base", "t")
    assert split_authority("HTTP://[::1]:8080/t/?q=1") == ("http://[::1]:8080", "t")


@pytest.mark.parametrize(
    "url",
    [
        *("https://[x/y", "http://[::1", "https://h:port/t", "ftp://h/t", "/t", "https:///t"),
        *("https://h:65536/t", "https://user:secret@h/t", "https://h/t#frag", " https://h/t"),
    ],
)
def test_split_authority_refuses_what_is_not_an_http_url(url: str) -> None:
    with pytest.raises(UsageError, match=r"^--issuer must be an http\(s\) URL, not "):
        split_authority(url, flag="--issuer")


def _remembered(values: dict[str, object]) -> Callable[[str, str], dict[str, object]]:
    seen: list[tuple[str, str]] = []

    def read(cache_dir: str, profile: str) -> dict[str, object]:
        seen.append((cache_dir, profile))
        return values

    return read


def test_remembered_settings_fill_what_nothing_else_says() -> None:
    last = {
        "client_id": "remembered-app",
        "authority": "http://127.0.0.1:8765",
        "tenant": "contoso",
        "scope": "User.Read Presence.Read",
        "graph_url": "http://127.0.0.1:8765",
    }
    s = resolve_settings({}, {}, home=HOME, remembered=_remembered(last))
    assert (s.client_id, s.authority, s.tenant) == ("remembered-app", *list(last.values())[1:3])
    assert s.scopes == ("User.Read", "Presence.Read")
    assert s.graph_url == "http://127.0.0.1:8765"
    # A flag, a variable or the config file wins over what was remembered.
    s = resolve_settings(
        {"graph_url": "http://flag.test", "authority": "https://other.test/fabrikam"},
        {"DEVICEFLOW_CLIENT_ID": "from-env"},
        config_text="[DEFAULT]\nscope = openid\n",
        home=HOME,
        remembered=_remembered(last),
    )
    assert (s.graph_url, s.client_id, s.scopes) == ("http://flag.test", "from-env", ("openid",))
    assert (s.authority, s.tenant) == ("https://other.test", "fabrikam")  # the URL's tenant


def test_remembered_issuer_yields_to_a_tenant_given_now() -> None:
    last = {"issuer": "https://id.example", "client_id": "x"}
    assert resolve_settings({}, {}, home=HOME, remembered=_remembered(last)).issuer == (
        "https://id.example"
    )
    s = resolve_settings({"tenant": "contoso"}, {}, home=HOME, remembered=_remembered(last))
    assert (s.issuer, s.tenant) == (None, "contoso")


def test_remembered_values_round_trip() -> None:
    s = resolve_settings(
        {"client_id": "app", "authority": "http://h.test/t", "graph_url": "http://g.test"},
        {},
        home=HOME,
    )
    again = resolve_settings({}, {}, home=HOME, remembered=_remembered(remembered_values(s)))
    assert again == s


def test_mistyped_config_key_gets_a_suggestion() -> None:
    with pytest.raises(UsageError, match=r"tenent \(did you mean tenant\?\)"):
        resolve_settings({}, {}, config_text="[DEFAULT]\ntenent = contoso\n", home=HOME)
