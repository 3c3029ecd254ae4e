"""A presence light: a board that shows your Microsoft Teams presence on an RGB LED.

It signs in once with the device flow (the code and its QR code on the board's display), then
follows ``GET /v1.0/me/presence`` and sets the LED: green when available, red when busy, yellow
when away. Everything that touches hardware is behind a *board*, an object with five methods::

    connect()              join the network (Wi-Fi on a Pico W; nothing on a computer)
    show_code(code)        show the sign-in code (see deviceflow.micro.display.render)
    set_led(rgb)           light the LED, (r, g, b) from 0 to 255
    sleep(seconds)         wait (time.sleep, or a light sleep on a battery board)
    keep_going()           False to stop (a button, or a test that counts)

``pico_w.py`` is the board for a Raspberry Pi Pico W with an SSD1306 OLED and a common-cathode
RGB LED; the tests use a board that prints, on MicroPython's Unix port, against the emulator.
"""

from deviceflow.micro import SignInRequired, TransportError

#: Graph's availability values, and the colour for each.
COLOURS = {
    "Available": (0, 255, 0),
    "AvailableIdle": (0, 255, 0),
    "Busy": (255, 0, 0),
    "BusyIdle": (255, 0, 0),
    "DoNotDisturb": (255, 0, 0),
    "Away": (255, 160, 0),
    "BeRightBack": (255, 160, 0),
}
UNKNOWN = (0, 0, 32)  # offline, or presence unknown: a dim blue
ERROR = (32, 0, 32)  # no answer from the service


def presence(client, graph):
    """The signed-in user's availability, or ``None`` when the answer has none."""
    status, body = client.request("GET", graph + "/v1.0/me/presence")
    if status != 200 or not isinstance(body, dict):
        return None
    return body.get("availability")


def run(board, client, graph="https://graph.microsoft.com", every=30):
    """Sign in when needed, then follow the presence until ``board.keep_going()`` says stop."""
    board.connect()
    while board.keep_going():
        try:
            availability = presence(client, graph)
        except SignInRequired:
            client.sign_in(board.show_code)
            continue
        except TransportError:
            board.set_led(ERROR)
        else:
            board.set_led(COLOURS.get(availability, UNKNOWN))
        board.sleep(every)
