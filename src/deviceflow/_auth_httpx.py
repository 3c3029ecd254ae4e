"""``deviceflow.auth.HttpxAuth``: an ``httpx.Auth`` from a token source (module docstring of
:mod:`deviceflow.auth`). Kept apart so that :mod:`deviceflow.auth` imports without httpx."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator
from functools import partial

import anyio.to_thread
import httpx

from deviceflow.auth import Source, fresh_token


class HttpxAuth(httpx.Auth):
    """Bearer tokens from ``source`` for an ``httpx.Client`` or ``httpx.AsyncClient``.

    A 401 is retried once with a fresh token (with a claims challenge's claims). In an async
    client the source runs on a worker thread, as it may refresh over the network.
    """

    def __init__(self, source: Source) -> None:
        self.source = source

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = "Bearer " + self.source()
        response = yield request
        if response.status_code == 401:
            challenge = response.headers.get("WWW-Authenticate")
            request.headers["Authorization"] = "Bearer " + fresh_token(self.source, challenge)
            yield request

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = await anyio.to_thread.run_sync(self.source)
        request.headers["Authorization"] = "Bearer " + token
        response = yield request
        if response.status_code == 401:
            challenge = response.headers.get("WWW-Authenticate")
            fresh = await anyio.to_thread.run_sync(partial(fresh_token, self.source, challenge))
            request.headers["Authorization"] = "Bearer " + fresh
            yield request
