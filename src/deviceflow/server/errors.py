"""How the server turns failures into responses.

Theory of operation: a 4xx is the client's fault, so it is *exposed*: the OAuth ``error`` code and
a human description go back to the caller. Anything else is ours, so the caller only learns that a
``server_error`` happened; the traceback goes to the log (``deviceflow.server``) and nowhere else.
Browsers (``Accept: text/html``) get a page, API clients get JSON.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

if TYPE_CHECKING:
    from deviceflow.server.pages import Pages

logger = logging.getLogger("deviceflow.server")

_ERROR_CODES = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "request_too_large",
    429: "too_many_requests",
}

SERVER_ERROR_DESCRIPTION = "The server encountered an unexpected error. Try again later."


def wants_html(request: Request) -> bool:
    """Whether the caller is a browser that prefers a page to a JSON body."""
    accept = request.headers.get("accept", "")
    return "text/html" in accept


def error_response(
    request: Request,
    *,
    status: int,
    error: str,
    description: str,
    headers: dict[str, str] | None = None,
) -> Response:
    """An error as a page (browsers) or as an OAuth-style JSON body (everyone else).

    Args:
        request: The request being answered.
        status: HTTP status.
        error: Machine-readable error code.
        description: Human-readable explanation, safe to show to the caller.
        headers: Extra response headers.

    Returns:
        The response; it is never cached.

    Raises:
        Nothing: rendering failures of the page fall back to JSON.
    """
    all_headers = {"Cache-Control": "no-store", **(headers or {})}
    pages: Pages | None = getattr(request.app.state, "pages", None)
    if pages is not None and wants_html(request):
        return pages.render(
            request,
            "error.html",
            {"title": _title(status), "error": error, "description": description},
            status=status,
            headers=all_headers,
        )
    return JSONResponse(
        {"error": error, "error_description": description}, status_code=status, headers=all_headers
    )


def _title(status: int) -> str:
    if status == 404:
        return "Page not found"
    if status == 429:
        return "Too many attempts"
    if status >= 500:
        return "Something went wrong"
    return "This request cannot be completed"


async def http_exception_handler(request: Request, exc: Exception) -> Response:
    """Expose a Starlette :class:`HTTPException` (404, 405, ...) with its code and description."""
    assert isinstance(exc, HTTPException)
    if exc.status_code >= 500:
        return await server_error_handler(request, exc)
    error = _ERROR_CODES.get(exc.status_code, "invalid_request")
    return error_response(
        request,
        status=exc.status_code,
        error=error,
        description=str(exc.detail),
        headers=dict(exc.headers or {}),
    )


async def server_error_handler(request: Request, exc: Exception) -> Response:
    """Hide an unexpected failure behind a generic ``server_error``; log the traceback only."""
    logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(
        request, status=500, error="server_error", description=SERVER_ERROR_DESCRIPTION
    )
