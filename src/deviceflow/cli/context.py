"""The CLI's view of the outside world, passed in so tests can swap every part of it.

:class:`World` holds the streams, environment, clocks, sleeper and transport factory;
:class:`Context` adds the resolved settings and flags of one run. Commands receive a ``Context``
and never read ``os.environ``, ``sys.stdout`` or a clock themselves.
"""

from __future__ import annotations

import os
import sys
import time

# ``typing.TYPE_CHECKING`` without importing typing (``deviceflow token`` loads this module: no
# typing, dataclasses or pathlib); type checkers treat the name as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any, TextIO

    from deviceflow.cache.base import TokenCache
    from deviceflow.cli.settings import CliSettings
    from deviceflow.transports.base import Transport

__all__ = ["Context", "World", "context_from_flags"]


def _default_transport() -> Transport:
    from deviceflow.transports import UrllibTransport

    return UrllibTransport()


class World:
    """Streams, environment, clocks and network of one CLI run (real ones by default).

    ``home`` is the user's home directory (default ``~``); ``cache_factory``, when given, makes
    the token cache from the settings' cache directory instead of :class:`FileTokenCache`;
    ``resolve`` (``socket.getaddrinfo``'s signature; default: that function) looks host names up
    for ``deviceflow doctor``.
    """

    __slots__ = (
        "stdout",
        "stderr",
        "environ",
        "home",
        "clock",
        "monotonic",
        "sleep",
        "make_transport",
        "cache_factory",
        "resolve",
    )

    def __init__(
        self,
        *,
        stdout: TextIO | None = None,
        stderr: TextIO | None = None,
        environ: Mapping[str, str] | None = None,
        home: str | os.PathLike[str] | None = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        make_transport: Callable[[], Transport] = _default_transport,
        cache_factory: Callable[[str], TokenCache] | None = None,
        resolve: Callable[..., list[Any]] | None = None,
    ) -> None:
        self.stdout: TextIO = sys.stdout if stdout is None else stdout
        self.stderr: TextIO = sys.stderr if stderr is None else stderr
        self.environ: Mapping[str, str] = dict(os.environ) if environ is None else environ
        self.home: str | os.PathLike[str] = os.path.expanduser("~") if home is None else home
        self.clock, self.monotonic, self.sleep = clock, monotonic, sleep
        self.make_transport = make_transport
        self.cache_factory = cache_factory
        self.resolve = resolve


class Context:
    """One run: the world, the resolved settings, the global flags, and the command line's flags
    (``flags``, by argparse destination: what the person typed, for hints that repeat it)."""

    __slots__ = ("world", "settings", "debug", "flags", "_transport")

    def __init__(
        self,
        *,
        world: World,
        settings: CliSettings,
        debug: bool = False,
        flags: Mapping[str, object] | None = None,
    ) -> None:
        self.world = world
        self.settings = settings
        self.debug = debug
        self.flags: Mapping[str, object] = flags or {}
        self._transport: Transport | None = None

    def say(self, text: str = "") -> None:
        """A line for a person, on stderr (stdout is for results)."""
        print(text, file=self.world.stderr, flush=True)

    def out(self, text: str) -> None:
        """A result line on stdout."""
        print(text, file=self.world.stdout, flush=True)

    @property
    def transport(self) -> Transport:
        """The transport (with ``--debug`` tracing when asked), created once."""
        if self._transport is None:
            transport = self.world.make_transport()
            if self.debug:
                from deviceflow.cli.debug import DebugTransport

                transport = DebugTransport(transport, self.world.stderr)
            self._transport = transport
        return self._transport

    def cache(self) -> TokenCache:
        """The token cache named by the settings.

        Raises:
            KeyringUnavailableError: keyring storage was asked for and has no usable backend
                (checked here, before a sign-in or a refresh needs it).
        """
        if self.world.cache_factory is not None:
            return self.world.cache_factory(self.settings.cache_dir)
        from deviceflow.cache.file import FileTokenCache

        secrets = None
        if self.settings.keyring:
            from deviceflow.cache.keyring import KeyringSecrets

            secrets = KeyringSecrets()
            secrets.check(self.settings.cache_dir, self.settings.profile)
        return FileTokenCache(
            self.settings.cache_dir, clock=self.world.clock, sleep=self.world.sleep, keyring=secrets
        )


def context_from_flags(flags: Mapping[str, object], world: World) -> Context:
    """Resolve settings (flags by argparse destination, environment, config file, what the
    profile's last login used) into a :class:`Context`.

    Raises:
        UsageError: invalid settings.
    """
    from deviceflow.cli.settings import config_path, read_config, resolve_settings
    from deviceflow.cli.state import remembered

    path = config_path(world.environ, world.home)
    settings = resolve_settings(
        flags,
        world.environ,
        config_text=read_config(path),
        config_source=str(path),
        home=world.home,
        remembered=remembered,
    )
    return Context(
        world=world, settings=settings, debug=bool(flags.get("debug", False)), flags=flags
    )
