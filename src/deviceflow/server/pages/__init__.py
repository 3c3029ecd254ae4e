"""The verification pages: Jinja2 templates (autoescaped) and one stylesheet.

Every page is plain HTML that works without JavaScript and reads well on a phone. Responses are
never cached and may never be framed (clickjacking an "Approve" button is the classic attack on a
consent page), and the content security policy allows nothing but our own stylesheet and forms.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse

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
