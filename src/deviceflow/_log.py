"""A module-level logger that costs nothing until a program has :mod:`logging` loaded.

Importing :mod:`logging` takes a fifth of the client's start-up (it pulls in ``traceback``,
``threading``, ``string``, ``re``...). Every record the client writes is INFO or DEBUG, and those
go nowhere unless the program configured logging, which it cannot have done without importing
:mod:`logging`. So :class:`LazyLogger` looks the module up in :data:`sys.modules` at each call:
absent, the record is dropped (exactly what an unconfigured ``logging`` would do with it);
present, the real ``logging.getLogger(name)`` gets it, however late the program set logging up.

It keeps STYLE §27 otherwise: a named logger per area, ``%``-style lazy arguments, no handlers.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    import logging

__all__ = ["LazyLogger"]


class LazyLogger:
    """``logging.getLogger(name)``'s ``info`` and ``debug``, resolved when logging is loaded."""

    __slots__ = ("_logger", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self._logger: logging.Logger | None = None

    def _target(self) -> logging.Logger | None:
        if self._logger is None:
            module = sys.modules.get("logging")
            if module is None:  # nothing configured logging: INFO and DEBUG would be dropped
                return None
            self._logger = module.getLogger(self.name)
        return self._logger

    def info(self, msg: str, *args: object) -> None:
        """Log ``msg % args`` at INFO, if logging is loaded."""
        logger = self._target()
        if logger is not None:
            logger.info(msg, *args, stacklevel=2)

    def debug(self, msg: str, *args: object) -> None:
        """Log ``msg % args`` at DEBUG, if logging is loaded."""
        logger = self._target()
        if logger is not None:
            logger.debug(msg, *args, stacklevel=2)
