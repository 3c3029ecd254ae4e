"""Render the sign-in screen on the Unix port and write it as a PGM image (for zbarimg).

Run (compiled) by ``test_micro_display.py``, with the arguments ``WIDTH HEIGHT FORMAT URL OUT``
(``URL`` empty: the server sent no ``verification_uri_complete``).
Prints ``QR yes|no`` and exits; the image is the frame scaled 4x, light pixels white.
"""

import sys

import framebuf

from deviceflow.micro.display import render


class Code:
    user_code = "BCDF-GHJK"
    verification_uri = "http://127.0.0.1:8765/devicelogin"
    message = "To sign in, open the page and enter the code."
    expires_at = 0.0

    def __init__(self, complete):
        self.verification_uri_complete = complete or None


def main(width, height, fmt, url, out, scale=4):
    formats = {"MONO_VLSB": framebuf.MONO_VLSB, "MONO_HLSB": framebuf.MONO_HLSB}
    buf = bytearray((width * height + 7) // 8 + width)
    fb = framebuf.FrameBuffer(buf, width, height, formats[fmt])
    code = Code(None if url == "-" else url)
    drawn = render(fb, width, height, code, light=1, dark_background=(height == 64))
    with open(out, "wb") as f:
        f.write(b"P5 %d %d 255\n" % (width * scale, height * scale))
        for y in range(height):
            row = bytearray(width * scale)
            for x in range(width):
                if fb.pixel(x, y):
                    for i in range(scale):
                        row[x * scale + i] = 255
            for _ in range(scale):
                f.write(row)
    print("QR " + ("yes" if drawn else "no"))


main(int(sys.argv[-5]), int(sys.argv[-4]), sys.argv[-3], sys.argv[-2], sys.argv[-1])
