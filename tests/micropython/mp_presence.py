"""The presence light example on the Unix port: a board that prints instead of lighting an LED.

Run (compiled) by ``test_micro_example.py`` with a JSON file naming the server, the store and how
many LED updates to make. Prints ``CODE {json}`` when asked to show the code (after rendering it
into a 128x64 FrameBuffer, as the Pico W board does), ``LED r g b`` per update.
"""

import json
import sys

import framebuf
from presence_light import run

from deviceflow.micro import DeviceClient
from deviceflow.micro.display import render


class UnixBoard:
    def __init__(self, updates):
        self.updates = updates
        self.fb = framebuf.FrameBuffer(bytearray(128 * 64 // 8), 128, 64, framebuf.MONO_VLSB)

    def connect(self):
        print("CONNECTED")

    def show_code(self, code):
        render(self.fb, 128, 64, code, dark_background=True)
        print("CODE " + json.dumps({"user_code": code.user_code}))

    def set_led(self, rgb):
        self.updates -= 1
        print(f"LED {rgb[0]} {rgb[1]} {rgb[2]}")

    def sleep(self, seconds):
        pass

    def keep_going(self):
        return self.updates > 0


with open(sys.argv[-1]) as f:
    config = json.load(f)
client = DeviceClient(
    "e2e-lamp",
    config["base"] + "/" + config["tenant"],
    scopes="User.Read Presence.Read offline_access",
    store=config["store"],
)
run(UnixBoard(config["updates"]), client, graph=config["base"])
