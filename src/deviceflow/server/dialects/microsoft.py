"""The Microsoft identity platform's spelling, layered over the RFC bodies.

What differs here (see the microsoft-identity reference, §3-§5): MSAL sends the device code as
``code`` as well as ``device_code``; ADAL-era clients send the bare ``device_code`` grant type; the
device authorization response carries a ``message`` line that CLIs print verbatim; errors carry
``error_codes`` with the AADSTS number. Exact Entra bodies belong to the Microsoft fidelity issue.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from deviceflow.server.dialects.base import DEVICE_CODE_GRANT, ParameterError
from deviceflow.server.dialects.rfc8628 import Rfc8628Dialect

if TYPE_CHECKING:
    from deviceflow.server.grant import DeviceAuthorization, IssuedTokens


class MicrosoftDialect:
    """Microsoft v2.0 endpoints' dialect (shares the RFC bodies, adds Microsoft's extras)."""

    name = "microsoft"

    def __init__(self) -> None:
        self._rfc = Rfc8628Dialect()

    def grant_type(self, raw: str) -> str:
        """Accept ADAL's bare ``device_code`` grant type as the RFC URN."""
        return DEVICE_CODE_GRANT if raw == "device_code" else raw

    def device_code(self, form: Mapping[str, str]) -> str | None:
        """``device_code`` or MSAL's duplicate ``code`` (both may be present; then they must agree).

        Raises:
            ParameterError: ``device_code`` and ``code`` are both present and differ.
        """
        device_code = form.get("device_code") or None
        code = form.get("code") or None
        if device_code and code and device_code != code:
            raise ParameterError("device_code and code carry different values")
        return device_code or code

    def device_authorization_body(
        self,
        authorization: DeviceAuthorization,
        *,
        verification_uri: str,
        verification_uri_complete: str,
    ) -> dict[str, Any]:
        """The RFC body plus Microsoft's ``message`` line, built from our own URI."""
        body = self._rfc.device_authorization_body(
            authorization,
            verification_uri=verification_uri,
            verification_uri_complete=verification_uri_complete,
        )
        body["message"] = (
            f"To sign in, use a web browser to open the page {verification_uri} "
            f"and enter the code {authorization.user_code} to authenticate."
        )
        return body

    def token_body(self, tokens: IssuedTokens) -> dict[str, Any]:
        """The RFC body plus ``ext_expires_in`` (equal to ``expires_in``)."""
        body = self._rfc.token_body(tokens)
        body["ext_expires_in"] = body["expires_in"]
        return body

    def error_body(
        self, error: str, description: str, *, aadsts: int | None = None
    ) -> dict[str, Any]:
        """The RFC body; ``error_codes`` and an ``AADSTSnnn:`` prefix when the number is known."""
        if aadsts is None:
            return self._rfc.error_body(error, description)
        return {
            "error": error,
            "error_description": f"AADSTS{aadsts}: {description}",
            "error_codes": [aadsts],
        }
