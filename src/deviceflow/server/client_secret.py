"""``python -m deviceflow.server.client_secret``: a new client secret and its ``secret_hash``.

Prints a random secret (``secrets.token_urlsafe(32)``, 256 bits) for the client to keep, and the
argon2 hash of it for the server's configuration::

    client_secret: Sx9-kQ2v...
    secret_hash = "$argon2id$v=19$m=65536,t=3,p=4$..."

The second line goes into the client's ``[[clients]]`` table (with ``public = false``); the
server never stores the secret itself. ``--stdin`` hashes a secret read from standard input
instead of making one.
"""

from __future__ import annotations

import argparse
import secrets
import sys
from collections.abc import Sequence

from deviceflow.server.security import hash_password


def main(argv: Sequence[str]) -> int:
    """Print a new client secret and its hash (or hash one from stdin); return the exit code.

    Raises:
        Nothing: an empty secret on stdin prints a message and returns 2.
    """
    parser = argparse.ArgumentParser(
        prog="python -m deviceflow.server.client_secret",
        description="Print a new client secret and the secret_hash line for [[clients]].",
    )
    parser.add_argument("--stdin", action="store_true", help="hash a secret read from stdin")
    try:
        args = parser.parse_args(list(argv))
    except SystemExit as exc:
        return 0 if exc.code == 0 else 2
    if args.stdin:
        secret = sys.stdin.readline().rstrip("\r\n")
        if not secret:
            print("client_secret: empty secret on stdin", file=sys.stderr)
            return 2
    else:
        secret = secrets.token_urlsafe(32)
        print(f"client_secret: {secret}")
    print(f'secret_hash = "{hash_password(secret)}"')
    return 0


if __name__ == "__main__":  # pragma: no cover - exercised through main()
    sys.exit(main(sys.argv[1:]))
