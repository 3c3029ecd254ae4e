"""A presence light: sign in once with ``deviceflow login``, then follow ``/v1.0/me/presence``.

Run ``deviceflow login --scope "User.Read Presence.Read offline_access"`` once, then::

    python examples/presence_light.py            # prints the light's colour when it changes

Replace :func:`show` with whatever drives your LED. Tokens are refreshed silently from the
CLI's cache (the same profile, cache directory and Graph URL settings as the CLI).
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
    """Poll presence every ``interval`` seconds and call ``show`` when the colour changes."""
    current = None
    count = 0
    while polls is None or count < polls:
        colour = colour_for(graph.get("/v1.0/me/presence"))
        if colour != current:
            show(colour)
            current = colour
        count += 1
        if polls is None or count < polls:
            sleep(interval)


def main() -> int:
    """Follow the signed-in user's presence using the CLI's settings and token cache."""
    from deviceflow.cache import FileTokenCache
    from deviceflow.cli.settings import config_path, read_config, resolve_settings
    from deviceflow.cli.tokens import TokenManager
    from deviceflow.transports import UrllibTransport

    home = Path.home()
    settings = resolve_settings(
        {}, os.environ, config_text=read_config(config_path(os.environ, home)), home=home
    )
    transport = UrllibTransport()
    manager = TokenManager(
        FileTokenCache(settings.cache_dir), settings.profile, transport=transport, clock=time.time
    )

    def token(*, force_refresh: bool = False) -> str:
        return manager.access_token(force_refresh=force_refresh)

    graph = GraphClient(transport, token, base_url=settings.graph_url)
    try:
        follow(graph, lambda colour: print(f"light: {colour}", flush=True))
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
