"""Credentials for the Azure SDKs from a deviceflow sign-in (needs the ``azure`` extra).

:class:`DeviceFlowCredential` (azure-core's ``TokenCredential`` and ``SupportsTokenInfo``) and
:class:`AsyncDeviceFlowCredential` (``AsyncTokenCredential``) hand out the access tokens of a
deviceflow CLI profile: the cached one while it is valid, else a silent refresh (under the
profile's lock, as ``deviceflow token`` does). When only a new sign-in can help (nobody signed
in, the refresh token refused), they raise ``ClientAuthenticationError`` saying so. Microsoft's
Graph SDK runs on them::

    from msgraph import GraphServiceClient
    from deviceflow.azure import AsyncDeviceFlowCredential

    graph = GraphServiceClient(AsyncDeviceFlowCredential(), scopes=["User.Read"])
    me = await graph.me.get()

Scopes: ``https://graph.microsoft.com/.default`` (the SDKs' default) means whatever the sign-in
was granted; Graph scopes with their resource prefix are taken in their short form
(``User.Read``). ``claims`` (a claims challenge, passed on by the SDKs) refreshes the token with
them; ``tenant_id`` must be left out (the profile has its tenant), ``enable_cae`` changes
nothing (the refresh carries claims whenever there are some).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from azure.core.credentials import AccessToken, AccessTokenInfo, TokenRequestOptions
from azure.core.exceptions import ClientAuthenticationError

from deviceflow.auth import ProfileTokens
from deviceflow.errors import DeviceFlowError

if TYPE_CHECKING:
    from deviceflow.cache.base import AccessToken as CachedToken

__all__ = ["AsyncDeviceFlowCredential", "DeviceFlowCredential"]

_GRAPH_PREFIXES = ("https://graph.microsoft.com/", "00000003-0000-0000-c000-000000000000/")


def profile_scopes(scopes: Sequence[str]) -> tuple[str, ...]:
    """The profile's names for the scopes an Azure SDK asks for (module docstring)."""
    found: list[str] = []
    for scope in scopes:
        if scope.endswith("/.default") or scope == ".default":
            continue
        for prefix in _GRAPH_PREFIXES:
            if scope.startswith(prefix):
                scope = scope[len(prefix) :]
        found.append(scope)
    return tuple(found)


class _Credential:
    """What both credentials share: the profile's tokens and the error mapping."""

    def __init__(
        self,
        profile: str | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        tokens: ProfileTokens | None = None,
    ) -> None:
        self._tokens = tokens or ProfileTokens(profile, environ=environ)

    def _access(
        self, scopes: Sequence[str], claims: str | None, tenant_id: str | None
    ) -> CachedToken:
        if tenant_id:
            raise ClientAuthenticationError(
                message="deviceflow profiles have their own tenant; tenant_id is not supported"
            )
        from deviceflow.cli.errors import CliError

        try:
            return self._tokens.access(profile_scopes(scopes), claims=claims or None)
        except (CliError, DeviceFlowError) as exc:
            raise ClientAuthenticationError(message=f"deviceflow: {exc}") from exc

    def _token(
        self, scopes: Sequence[str], claims: str | None, tenant_id: str | None
    ) -> AccessToken:
        access = self._access(scopes, claims, tenant_id)
        return AccessToken(access.token, int(access.expires_at))

    def _info(self, scopes: Sequence[str], options: TokenRequestOptions | None) -> AccessTokenInfo:
        options = options or {}
        access = self._access(scopes, options.get("claims"), options.get("tenant_id"))
        return AccessTokenInfo(access.token, int(access.expires_at), token_type=access.token_type)


class DeviceFlowCredential(_Credential):
    """azure-core ``TokenCredential`` serving a deviceflow profile's tokens.

    Args:
        profile: the deviceflow profile (default: ``DEVICEFLOW_PROFILE``, else ``default``).
        environ: the environment the CLI settings come from (default: ``os.environ``).
        tokens: a ready :class:`~deviceflow.auth.ProfileTokens` instead of ``profile``.
    """

    def get_token(self, *scopes: str, **options: Any) -> AccessToken:
        """An access token for ``scopes``; ``claims=`` refreshes it with them (``tenant_id``
        is refused, ``enable_cae`` ignored: see the module docstring).

        Raises:
            ClientAuthenticationError: a sign-in is needed (``deviceflow login``), or the token
                could not be had (network, server refusal); ``tenant_id`` was given.
        """
        return self._token(scopes, options.get("claims"), options.get("tenant_id"))

    def get_token_info(
        self, *scopes: str, options: TokenRequestOptions | None = None
    ) -> AccessTokenInfo:
        """:meth:`get_token` in the ``SupportsTokenInfo`` protocol's shape.

        Raises:
            ClientAuthenticationError: as :meth:`get_token`.
        """
        return self._info(scopes, options)

    def close(self) -> None:
        """Nothing to release (the profile's files are opened per call)."""

    def __enter__(self) -> DeviceFlowCredential:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        self.close()


class AsyncDeviceFlowCredential(_Credential):
    """azure-core ``AsyncTokenCredential`` serving a deviceflow profile's tokens.

    The profile's lock and a refresh block, so they run on a worker thread. Arguments as
    :class:`DeviceFlowCredential`.
    """

    async def get_token(self, *scopes: str, **options: Any) -> AccessToken:
        """As :meth:`DeviceFlowCredential.get_token`.

        Raises:
            ClientAuthenticationError: as :meth:`DeviceFlowCredential.get_token`.
        """
        claims, tenant_id = options.get("claims"), options.get("tenant_id")
        return await asyncio.to_thread(self._token, scopes, claims, tenant_id)

    async def get_token_info(
        self, *scopes: str, options: TokenRequestOptions | None = None
    ) -> AccessTokenInfo:
        """As :meth:`DeviceFlowCredential.get_token_info`.

        Raises:
            ClientAuthenticationError: as :meth:`DeviceFlowCredential.get_token`.
        """
        return await asyncio.to_thread(self._info, scopes, options)

    async def close(self) -> None:
        """Nothing to release."""

    async def __aenter__(self) -> AsyncDeviceFlowCredential:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        await self.close()
