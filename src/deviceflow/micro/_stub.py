"""Shipped on a board as ``deviceflow/__init__.py`` and ``deviceflow/core/__init__.py``.

On CPython those two files import the whole toolkit (transports, client, every core module). A
board with 64 KiB of heap cannot hold that: ``deviceflow.micro`` imports the core modules it
needs one by one (``deviceflow.core._flow``, ...), so the packages above them must be empty. See
``package.json`` and ``scripts/build-micro``.
"""
