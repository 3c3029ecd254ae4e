"""The sign-in screen for small displays: the QR code, the URL and the user code in a FrameBuffer.

::

    import framebuf
    from deviceflow.micro.display import render

    buf = bytearray(128 * 64 // 8)
    fb = framebuf.FrameBuffer(buf, 128, 64, framebuf.MONO_VLSB)      # an SSD1306 OLED
    client.sign_in(lambda code: (render(fb, 128, 64, code, dark_background=True), oled.show()))

Layout: the QR code of ``verification_uri_complete`` (or, when the server sends none, of
``verification_uri``) fills a square on the left, with a quiet zone; the text column on the right
says where to go and shows the user code on its own line, in MicroPython's 8x8 font. On a 128x64
OLED the QR code is one pixel per module; on a 296x128 e-paper panel, three.

Colours: ``light`` is the value that looks light on the panel (1 on an SSD1306 and on most
e-paper drivers). The QR code is always dark modules on light, as phone cameras expect; the rest
of the screen is light text on dark with ``dark_background=True`` (OLEDs), else dark on light.

The QR code comes from ``adafruit_miniqr`` (install it next to this package: see
``docs/micropython.md``). Without it, or when the URL is too long for the screen, the text alone
is drawn and :func:`render` returns ``False``.
"""

import sys

#: Modules of light margin around the QR code (the standard asks for 4; readers cope with 2, and
#: a 64-pixel screen has no room to spare).
QUIET = 2
_FONT = 8


def qr_matrix(text):
    """The QR code of ``text`` as ``(size, is_dark(x, y))``, or ``None`` without an encoder.

    The encoder is needed once per sign-in and takes ~13 KiB of heap once imported (its tables):
    the modules are copied out of it, one byte each, and it is dropped from ``sys.modules``
    before this returns, so that the polling that follows ``show`` has the room.
    """
    try:
        import adafruit_miniqr
    except ImportError:
        return None
    try:
        data = text.encode()
        # The encoder's own choice of version (None) is sometimes one too small for the data
        # ("Code length overflow"): then the next versions are tried.
        for version in (None, 2, 3, 4, 5, 6, 7, 8):
            qr = adafruit_miniqr.QRCode(qr_type=version, error_correct=adafruit_miniqr.L)
            qr.add_data(data)
            try:
                qr.make()
                break
            except RuntimeError:
                qr = None
        if qr is None:
            return None
        matrix = qr.matrix
        size = matrix.width
        dark = bytearray(size * size)
        for y in range(size):
            for x in range(size):
                dark[y * size + x] = 1 if matrix[x, y] else 0
        return size, lambda x, y: dark[y * size + x]
    finally:
        sys.modules.pop("adafruit_miniqr", None)


def _wrap(text, columns):
    lines = []
    for word in text.split():
        while len(word) > columns:  # a URL longer than the column: cut it
            lines.append(word[:columns])
            word = word[columns:]
        if lines and len(lines[-1]) + 1 + len(word) <= columns and not lines[-1].endswith("/"):
            lines[-1] += " " + word
        elif word:
            lines.append(word)
    return lines


def render(fb, width, height, code, *, light=1, dark_background=False):
    """Draw the sign-in screen for ``code`` (what ``DeviceClient.sign_in`` shows) into ``fb``.

    Args:
        fb: a ``framebuf.FrameBuffer`` (any monochrome format) of ``width`` x ``height``.
        width: the screen's width in pixels (128 for an OLED, 296 for e-paper).
        height: its height (64 or 128).
        code: what ``DeviceClient.sign_in`` passes to ``show``.
        light: the colour value that looks light on the panel.
        dark_background: light text on a dark screen (OLEDs) instead of dark on light.

    Returns:
        Whether the QR code was drawn (``False``: text only).
    """
    dark = 1 - light
    ink = light if dark_background else dark
    fb.fill(dark if dark_background else light)
    target = code.verification_uri_complete or code.verification_uri
    qr = qr_matrix(target)
    left = 0
    if qr is not None:
        size, is_dark = qr
        scale = height // (size + 2 * QUIET)
        if scale and (size + 2 * QUIET) * scale <= width // 2:
            side = (size + 2 * QUIET) * scale
            top = (height - side) // 2
            fb.fill_rect(0, top, side, side, light)
            origin = QUIET * scale
            for y in range(size):
                for x in range(size):
                    if is_dark(x, y):
                        fb.fill_rect(
                            origin + x * scale, top + origin + y * scale, scale, scale, dark
                        )
            left = side + 2
        else:
            qr = None
    columns = (width - left) // _FONT
    lines = ["Sign in at"] + _wrap(code.verification_uri, columns) + ["Code:", code.user_code]
    rows = height // _FONT
    if len(lines) > rows:  # keep the code visible: drop the wrapped URL's tail first
        lines = lines[: rows - 2] + lines[-2:]
    top = (height - len(lines) * _FONT) // 2
    for index, line in enumerate(lines):
        fb.text(line[:columns], left, top + index * _FONT, ink)
    return qr is not None
