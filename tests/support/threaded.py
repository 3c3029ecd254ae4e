"""An app served by uvicorn on a thread of the test process, with ``serve``'s options."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.support.tools import free_port


@contextmanager
def serve_in_thread(app: Any, options: dict[str, Any]) -> Iterator[int]:
    """Serve ``app`` on 127.0.0.1 with uvicorn ``options`` until the block ends; its port."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, **options))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "the threaded server did not start"
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(10)
