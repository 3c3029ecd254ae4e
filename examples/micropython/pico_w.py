"""The presence light's board: a Raspberry Pi Pico W, an SSD1306 128x64 OLED, an RGB LED.

Wiring (change the pins below to yours): OLED on I2C0 (SDA GP4, SCL GP5); the LED's red, green
and blue legs on GP13, GP14, GP15 through resistors, common cathode to GND. ``ssd1306.py`` comes
from MicroPython's library (``mip.install("ssd1306")``).
"""

import time

import machine
import network
import ssd1306

from deviceflow.micro.display import render


class PicoW:
    def __init__(self, ssid, password, pins=(13, 14, 15)):
        self.ssid = ssid
        self.password = password
        i2c = machine.I2C(0, sda=machine.Pin(4), scl=machine.Pin(5))
        self.oled = ssd1306.SSD1306_I2C(128, 64, i2c)
        self.leds = [machine.PWM(machine.Pin(pin), freq=1000) for pin in pins]

    def connect(self):
        wlan = network.WLAN(network.STA_IF)
        wlan.active(True)
        if not wlan.isconnected():
            wlan.connect(self.ssid, self.password)
            while not wlan.isconnected():
                time.sleep(0.5)
        import ntptime

        ntptime.settime()  # token lifetimes are wall-clock times

    def show_code(self, code):
        render(self.oled, 128, 64, code, dark_background=True)
        self.oled.show()

    def set_led(self, rgb):
        for index in range(3):
            self.leds[index].duty_u16(rgb[index] * 257)
        self.oled.fill(0)
        self.oled.show()

    def sleep(self, seconds):
        time.sleep(seconds)

    def keep_going(self):
        return True
