"""A presence light: sign in once with ``deviceflow login``, then follow ``/v1.0/me/presence``.

Run ``deviceflow login --scope "User.Read Presence.Read offline_access"`` once, then::

    python examples/presence_light.py [--interval SECONDS]   # prints the colour when it changes

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
    args = parser.parse_args(argv)

    home = Path.home()
    settings = resolve_settings(
        {}, os.environ, config_text=read_config(config_path(os.environ, home)), home=home
    )
    transport = UrllibTransport()
    manager = TokenManager(
        FileTokenCache(settings.cache_dir),
        settings.profile,
        transport=transport,
        clock=time.time,
        state=ProfileState(settings.cache_dir, settings.profile, writer="presence-light"),
    )

    def token(*, force_refresh: bool = False) -> str:
        return manager.access_token(force_refresh=force_refresh)

    graph = GraphClient(transport, token, base_url=settings.graph_url)
    try:
        follow(graph, lambda colour: print(f"light: {colour}", flush=True), interval=args.interval)
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
