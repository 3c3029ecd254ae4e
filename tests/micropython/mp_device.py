"""The device side of the MicroPython end-to-end tests: one step of a board's life per process.

Compiled to ``.mpy`` next to the ``scripts/build-micro`` output and run by the Unix-port
``micropython -X heapsize=...`` (see ``device.py``). Its one argument names a JSON file (the port's
``micropython`` wrapper crashes on long arguments) holding::

    {"step": "sign-in" | "token" | "me", "client_id": ..., "authority": ... | "issuer": ...,
     "scopes": ..., "store": ..., "ca": ..., "graph": "http(s)://host:port"}

It prints one line per thing that happened, for the test to read: ``CODE {json}`` (what ``show``
got), ``SIGNED-IN``, ``TOKEN <length> <sha256 prefix>`` (never the token), ``ME <status> <json>``,
``ERROR <class> <message>`` (then exit status 1), and ``HEAP <bytes in use>`` at the end.
"""

import gc
import json
import sys


def _show(code):
    print(
        "CODE "
        + json.dumps(
            {
                "user_code": code.user_code,
                "verification_uri": code.verification_uri,
                "verification_uri_complete": code.verification_uri_complete,
                "expires_at": code.expires_at,
                "message": code.message,
            }
        )
    )


def _fingerprint(token):
    from binascii import hexlify
    from hashlib import sha256

    return str(len(token)) + " " + hexlify(sha256(token.encode()).digest()).decode()[:12]


def main(config):
    from deviceflow.micro import DeviceClient

    client = DeviceClient(
        config["client_id"],
        config.get("authority", "https://login.microsoftonline.com/organizations"),
        issuer=config.get("issuer"),
        scopes=config["scopes"],
        store=config["store"],
        ca=config.get("ca"),
    )
    step = config["step"]
    if step == "sign-in":
        client.sign_in(_show)
        print("SIGNED-IN")
    elif step == "token":
        print("TOKEN " + _fingerprint(client.token()))
    elif step == "me":
        status, body = client.request("GET", config["graph"] + "/v1.0/me")
        print("ME " + str(status) + " " + json.dumps(body))


def run():
    with open(sys.argv[-1]) as f:
        config = json.load(f)
    try:
        main(config)
    except Exception as exc:  # every failure is one line for the test, never a traceback
        print("ERROR " + type(exc).__name__ + " " + str(exc))
        sys.exit(1)
    gc.collect()
    print("HEAP " + str(gc.mem_alloc()))


run()
