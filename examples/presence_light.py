"""A presence light: sign in once with ``deviceflow login``, then follow ``/v1.0/me/presence``.

Sign in once, with ``openid profile`` among the scopes so the light can say whose presence it
follows. Against a Microsoft 365 tenant (your app registration with the ``Presence.Read``
permission, see the README's "Signing in against a real Microsoft tenant")::

    deviceflow login --client-id ID --tenant TENANT \\
      --scope "openid profile offline_access User.Read Presence.Read"
    python examples/presence_light.py

Against your own ``deviceflow serve --port 8765`` (its demo client), with the settings in the
environment so that the light finds the same server::

    export DEVICEFLOW_AUTHORITY=http://127.0.0.1:8765/organizations
    export DEVICEFLOW_CLIENT_ID=5e1c0f7a-2b4d-4e8f-9a6b-3c2d1e0f9a8b
    export DEVICEFLOW_GRAPH_URL=http://127.0.0.1:8765
    deviceflow login --scope "openid profile offline_access User.Read Presence.Read"
    python examples/presence_light.py

``python examples/presence_light.py [--interval SECONDS] [--once]`` prints the colour when it
changes (``--once``: prints it once and exits). Not signed in, it says how to sign in and exits 3
(the CLI's "sign-in required").

Replace :func:`show` with whatever drives your LED. Tokens are refreshed silently from the
CLI's cache (the same profile, cache directory and Graph URL settings as the CLI), under the
profile's lock, so it runs beside ``deviceflow agent`` (see ``docs/agent.md``): the agent keeps
the sign-in alive for months and re-links it when the provider ends it; meanwhile the light shows
:data:`NEEDS_OWNER` and waits, and it carries on by itself once someone has approved the new code.
Network failures show :data:`NO_NETWORK` and are retried.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from deviceflow.graph import GraphClient

#: Graph availability values (``GET /v1.0/me/presence``) and the colour each lights.
COLOURS = {
    "Available": "green",
    "AvailableIdle": "green",
    "Busy": "red",
    "BusyIdle": "red",
    "DoNotDisturb": "red",
    "Away": "yellow",
    "BeRightBack": "yellow",
    "Offline": "off",
    "PresenceUnknown": "off",
}


#: What to ask for at sign-in: ``openid profile`` name the account, ``Presence.Read`` reads it.
SCOPE = "openid profile offline_access User.Read Presence.Read"
#: The CLI's exit code for "sign-in required".
EXIT_SIGN_IN = 3

#: Shown while the sign-in is refused (the agent is re-linking: someone must approve a code).
NEEDS_OWNER = "blue"
#: Shown while Graph cannot be reached.
NO_NETWORK = "off"


def colour_for(presence: object) -> str:
    """The colour for a presence object (``off`` for anything unexpected)."""
    if isinstance(presence, dict):
        return COLOURS.get(str(presence.get("availability")), "off")
    return "off"


def follow(
    graph: GraphClient,
    show: Callable[[str], None],
    *,
    interval: float = 30.0,
    sleep: Callable[[float], None] = time.sleep,
    polls: int | None = None,
) -> None:
    """Poll presence every ``interval`` seconds and call ``show`` when the colour changes.

    A refused sign-in shows :data:`NEEDS_OWNER`, a network failure :data:`NO_NETWORK`; both
    are tried again at the next poll.
    """
    from deviceflow.cli.errors import SignInRequiredError
    from deviceflow.errors import DeviceFlowError, TransportError

    current = None
    count = 0
    while polls is None or count < polls:
        try:
            colour = colour_for(graph.get("/v1.0/me/presence"))
        except SignInRequiredError:
            colour = NEEDS_OWNER
        except (TransportError, DeviceFlowError):
            colour = NO_NETWORK
        if colour != current:
            show(colour)
            current = colour
        count += 1
        if polls is None or count < polls:
            sleep(interval)


def login_command(profile: str, client_id: str | None) -> str:
    """The ``deviceflow login`` command that signs this light in (``ID`` when not configured)."""
    words = ["deviceflow login"]
    if profile != "default":
        words.append(f"--profile {profile}")
    if not client_id:
        words.append("--client-id ID")
    words.append(f'--scope "{SCOPE}"')
    return " ".join(words)


def not_signed_in(profile: str, client_id: str | None) -> str:
    """What to print when the profile has no sign-in: the command that makes one."""
    text = (
        f"presence light: not signed in (profile {profile!r}). Sign in once, then run it again:\n"
        f"  {login_command(profile, client_id)}\n"
    )
    if not client_id:
        text += (
            "(ID: your app registration's client id, plus --tenant TENANT for a work account;"
            " for `deviceflow serve`, see the top of examples/presence_light.py)\n"
        )
    return text


def main(argv: list[str]) -> int:
    """Follow the signed-in user's presence using the CLI's settings and token cache."""
    import argparse

    from deviceflow.cache import FileTokenCache
    from deviceflow.cli.settings import config_path, read_config, resolve_settings
    from deviceflow.cli.state import ProfileState
    from deviceflow.cli.tokens import TokenManager
    from deviceflow.transports import UrllibTransport

    parser = argparse.ArgumentParser(description="a presence light over Microsoft Graph")
    parser.add_argument("--interval", type=float, default=30.0, help="seconds between polls")
    parser.add_argument("--once", action="store_true", help="show the colour once and exit")
    args = parser.parse_args(argv)

    home = Path.home()
    settings = resolve_settings(
        {}, os.environ, config_text=read_config(config_path(os.environ, home)), home=home
    )
    cache = FileTokenCache(settings.cache_dir)
    entry = cache.load(settings.profile)
    if entry is None:  # never signed in, or signed out: no light can help, say what to run
        sys.stderr.write(not_signed_in(settings.profile, settings.client_id))
        return EXIT_SIGN_IN
    print(f"presence light: following {entry.account.label()}", flush=True)
    transport = UrllibTransport()
    manager = TokenManager(
        cache,
        settings.profile,
        transport=transport,
        clock=time.time,
        state=ProfileState(settings.cache_dir, settings.profile, writer="presence-light"),
    )

    def token(*, force_refresh: bool = False) -> str:
        return manager.access_token(force_refresh=force_refresh)

    graph = GraphClient(transport, token, base_url=settings.graph_url)
    try:
        follow(
            graph,
            lambda colour: print(f"light: {colour}", flush=True),
            interval=args.interval,
            polls=1 if args.once else None,
        )
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
