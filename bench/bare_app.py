"""The ceiling: a bare ASGI callable that parses a token form and answers ``authorization_pending``.

It does what any token endpoint must do at minimum (read the body, parse the form, check the
grant type, write a JSON error with ``Cache-Control: no-store``) and nothing else, and it runs
under the same ASGI server with the same options as ``deviceflow serve``.

``python -m bench.bare_app PORT`` serves it on 127.0.0.1:PORT.
"""

from __future__ import annotations

import json
import sys
from typing import Any
from urllib.parse import parse_qsl

_PENDING = json.dumps(
    {"error": "authorization_pending", "error_description": "the user has not yet finished"}
).encode()


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answer every form POST with 400 ``authorization_pending``."""
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    form = dict(parse_qsl(body.decode(), keep_blank_values=True))
    status, payload = 400, _PENDING
    if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:device_code":
        payload = b'{"error":"unsupported_grant_type"}'
    headers = [
        (b"content-type", b"application/json"),
        (b"cache-control", b"no-store"),
        (b"content-length", str(len(payload)).encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


def main(port: int) -> None:
    """Serve :func:`app` exactly as ``deviceflow serve`` runs its app: same uvicorn options,
    same HTTP parser, same event loop (:func:`deviceflow.server.serving.uvicorn_options`,
    :func:`~deviceflow.server.serving.run_event_loop`)."""
    import uvicorn

    from deviceflow.server.serving import run_event_loop, uvicorn_options

    config = uvicorn.Config(app, host="127.0.0.1", port=port, **uvicorn_options())  # type: ignore[arg-type]
    server = uvicorn.Server(config)
    print(f"listening on http://127.0.0.1:{port}", flush=True)
    run_event_loop(server.serve())


if __name__ == "__main__":
    main(int(sys.argv[1]))
