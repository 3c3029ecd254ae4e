"""Requested scopes in plain words for the confirm page (RFC 8628 §5.4: say what is granted)."""

from __future__ import annotations

from collections.abc import Iterable

_PLAIN: dict[str, str] = {
    "openid": "Sign you in",
    "profile": "See your name and username",
    "email": "See your email address",
    "offline_access": "Keep access until you revoke it (stay signed in)",
    "user.read": "Read your profile",
    "user.readwrite": "Read and update your profile",
    "user.readbasic.all": "Read the basic profiles of everyone in your organisation",
    "presence.read": "See your availability (presence)",
    "presence.readwrite": "See and change your availability (presence)",
    "presence.read.all": "See everyone's availability (presence)",
    "mail.read": "Read your email",
    "mail.send": "Send email as you",
    "calendars.read": "Read your calendars",
    "files.read": "Read your files",
}


def _short(scope: str) -> str:
    """``https://graph.microsoft.com/User.Read`` -> ``User.Read`` (resource prefixes are noise)."""
    if "://" in scope:
        return scope.rstrip("/").rsplit("/", 1)[-1] or scope
    return scope


def describe_scopes(scopes: Iterable[str]) -> list[str]:
    """One plain sentence per requested scope, in request order, without duplicates.

    Unknown scopes are named as they are, so nothing the application asks for is hidden.
    """
    seen: set[str] = set()
    lines: list[str] = []
    for scope in scopes:
        short = _short(scope)
        if short.lower() == ".default":
            text = "Use every permission an administrator has granted this application"
        else:
            text = _PLAIN.get(short.lower(), f"Use the permission \u201c{short}\u201d")
        if text not in seen:
            seen.add(text)
            lines.append(text)
    return lines or ["Sign you in"]
