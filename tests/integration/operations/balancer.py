"""A small load balancer for the rolling-restart test, behaving as a real one does.

It sends each request to the next *ready* instance in turn. Readiness is what the instance's
``/readyz`` said at the last health check (every ``check_every`` seconds); an instance whose
connection is refused is taken out at once and the request goes to the next one (nothing was
sent, so retrying is always safe). When an instance leaves the pool, the requests it is serving
run to their end, its connections are not reused, and a fresh pool is made when it comes back.
Any other failure is the client's to see: the test counts them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping

import httpx


class Backend:
    """One instance: its base URL, whether it is in the pool, its connections."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.ready = False
        self.client: httpx.AsyncClient | None = None
        self.retired: list[httpx.AsyncClient] = []
        self.served = 0

    def take_out(self) -> None:
        """Out of the pool: no new request; those in flight finish on their connections."""
        self.ready = False
        client, self.client = self.client, None
        if client is not None:
            self.retired.append(client)

    async def close(self) -> None:
        self.take_out()
        for client in self.retired:
            await client.aclose()

    def connections(self) -> httpx.AsyncClient:
        if self.client is None:
            self.client = httpx.AsyncClient(base_url=self.base_url, timeout=10)
        return self.client


class NoBackendError(Exception):
    """No instance is ready."""


class Balancer:
    """Round robin over the ready backends (see the module docstring)."""

    def __init__(self, urls: list[str], *, check_every: float = 0.1) -> None:
        self.backends = [Backend(url) for url in urls]
        self.check_every = check_every
        self._next = 0

    async def _check(self, probe: httpx.AsyncClient) -> None:
        for backend in self.backends:
            try:
                answer = await probe.get(f"{backend.base_url}/readyz")
                ready = answer.status_code == 200
            except httpx.TransportError:
                ready = False
            if ready:
                backend.ready = True
            elif backend.ready or backend.client is not None:
                backend.take_out()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Balancer]:
        """Health checks run for the block."""
        async with httpx.AsyncClient(timeout=2) as probe:
            await self._check(probe)

            async def checks() -> None:
                while True:
                    await asyncio.sleep(self.check_every)
                    await self._check(probe)

            task = asyncio.create_task(checks())
            try:
                yield self
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                for backend in self.backends:
                    await backend.close()

    async def post(self, path: str, data: Mapping[str, str]) -> httpx.Response:
        """POST to the next ready backend, failing over on refused connections.

        Raises:
            NoBackendError: every backend refused or is out of the pool.
            httpx.HTTPError: any other failure (the client sees it).
        """
        for _ in range(2 * len(self.backends)):
            ready = [b for b in self.backends if b.ready]
            if not ready:
                await asyncio.sleep(self.check_every)
                continue
            backend = ready[self._next % len(ready)]
            self._next += 1
            try:
                response = await backend.connections().post(path, data=data)
            except httpx.ConnectError:  # refused: nothing was sent
                backend.take_out()
                continue
            backend.served += 1
            return response
        raise NoBackendError("no instance is ready")
