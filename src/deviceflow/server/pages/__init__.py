"""The verification pages: Jinja2 templates (autoescaped) and one stylesheet.

Every page is plain HTML that works without JavaScript and reads well on a phone. Responses are
never cached and may never be framed (clickjacking an "Approve" button is the classic attack on a
consent page), and the content security policy allows nothing but our own stylesheet and forms.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from importlib import resources
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

PAGE_HEADERS: dict[str, str] = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' https: data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
"""Security headers every page carries."""


class Pages:
    """Renders the templates of this package; one instance per app (no global environment)."""

    def __init__(self, *, product_name: str = "deviceflow") -> None:
        self._env = jinja2.Environment(
            loader=jinja2.PackageLoader("deviceflow.server.pages", "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._product_name = product_name

    def render(
        self,
        request: Request,
        name: str,
        context: Mapping[str, Any],
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> HTMLResponse:
        """Render template ``name`` into a page response with the security headers.

        Args:
            request: The request being answered (templates build URLs with its ``url_for``).
            name: Template file name.
            context: Template variables.
            status: HTTP status.
            headers: Extra headers (they may override the defaults).

        Returns:
            The HTML response.

        Raises:
            jinja2.TemplateError: The template is broken or a variable is missing.
        """
        template = self._env.get_template(name)
        html = template.render(
            {"url_for": request.url_for, "product_name": self._product_name, **context}
        )
        return HTMLResponse(html, status_code=status, headers={**PAGE_HEADERS, **(headers or {})})


FAVICON_MAX_AGE = 7 * 24 * 3600
"""How long browsers may keep ``/favicon.ico`` (a week: it changes with releases only)."""


@functools.cache
def _favicon_bytes() -> bytes:
    return resources.files(__package__).joinpath("static").joinpath("favicon.ico").read_bytes()


async def favicon(_request: Request) -> Response:
    """``GET /favicon.ico``: the small icon every browser asks for (instead of a 404)."""
    return Response(
        _favicon_bytes(),
        media_type="image/vnd.microsoft.icon",
        headers={
            "Cache-Control": f"public, max-age={FAVICON_MAX_AGE}",
            "X-Content-Type-Options": "nosniff",
        },
    )
