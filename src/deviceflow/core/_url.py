"""The core's one check of an absolute http(s) URL, :func:`split_url`, and :func:`url_member`.

Kept apart from ``_endpoints`` (which re-exports ``split_url``) so that a board can check the URLs
a server sends without loading the endpoint and message classes (see ``deviceflow.micro``).
"""

# typing.TYPE_CHECKING without importing typing (MicroPython has none; CPython skips ~2 ms of
# start-up): type checkers treat the name as true.
TYPE_CHECKING = False

if TYPE_CHECKING:
    from typing import Any


def split_url(url: str) -> "tuple[str, str, str]":
    """Split an absolute http(s) URL into ``(scheme, authority, rest)``; ``ValueError`` otherwise.

    ``rest`` is the path plus query (``""`` when there is none). URLs with whitespace, control
    characters, a fragment or user information are refused.
    """
    if not isinstance(url, str):
        raise TypeError("URL must be a str")
    # Bytes, not characters: a character <= 32 or 127 is that one byte in UTF-8, and no byte of
    # another character is; on MicroPython, going through the characters would intern each
    # distinct one, for good.
    for byte in url.encode("utf-8", "surrogatepass"):
        if byte <= 32 or byte == 127:
            raise ValueError("URL contains whitespace or control characters: " + repr(url))
    scheme, sep, remainder = url.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in ("http", "https"):
        raise ValueError("not an absolute http(s) URL: " + repr(url))
    if "#" in remainder:
        raise ValueError("URL must not have a fragment: " + repr(url))
    cut = len(remainder)
    for mark in ("/", "?"):
        index = remainder.find(mark)
        if 0 <= index < cut:
            cut = index
    authority, rest = remainder[:cut], remainder[cut:]
    if not authority or "@" in authority:
        raise ValueError("URL needs a host and no user information: " + repr(url))
    return scheme, authority, rest


def url_member(obj: "dict[str, Any]", names: "tuple[str, ...]") -> "str | None":
    """The first member of ``obj`` among ``names`` that is an http(s) URL :func:`split_url` takes.

    For the URLs a server sends to be shown (``verification_uri`` and its spellings): a member
    that is missing, empty, not a string or not such a URL is passed over.
    """
    for name in names:
        value = obj.get(name)
        if isinstance(value, str) and value:
            try:
                split_url(value)
            except ValueError:
                continue
            return value
    return None
