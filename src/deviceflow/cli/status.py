"""``deviceflow status``: who is signed in, how fresh the tokens are, whether an agent keeps them.

Read-only: the profile's cache entry (tokens are never printed), its ``.state`` file
(:mod:`deviceflow.cli.state`) and the agent's lock. The last error is given in plain words from
:mod:`deviceflow.cli.diagnoses`.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from deviceflow.cli.diagnoses import explain
from deviceflow.cli.panel import format_remaining
from deviceflow.cli.state import ProfileState, agent_pid, iso_time

if TYPE_CHECKING:
    from deviceflow.cli.context import Context

__all__ = ["collect_status", "status"]


def collect_status(ctx: Context) -> dict[str, Any]:
    """The status of the context's profile, as a JSON-ready dict (times as epoch seconds).

    Raises:
        CacheError: the cache is unsafe or corrupt.
    """
    s = ctx.settings
    now = ctx.world.clock()
    entry = ctx.cache().load(s.profile)
    state = ProfileState(s.cache_dir, s.profile).read()
    pid = agent_pid(s.cache_dir, s.profile)
    access = entry.access_tokens[0] if entry and entry.access_tokens else None
    received = state.get("refresh_token_at")
    last = state.get("last_error")
    row = explain(last.get("error"), last.get("error_codes") or ()) if last else None
    return {
        "profile": s.profile,
        "signed_in": entry is not None,
        "name": entry.account.name if entry else None,
        "username": entry.account.username if entry else None,
        "issuer": (entry.issuer or entry.token_url) if entry else None,
        "client_id": entry.client_id if entry else None,
        "access_token_expires_at": access.expires_at if access else None,
        "access_token_valid": bool(access and access.is_valid(now)),
        "has_refresh_token": bool(entry and entry.refresh_token),
        "signed_in_at": state.get("signed_in_at"),
        "last_refresh_at": state.get("last_refresh_at"),
        "next_refresh_at": state.get("next_refresh_at") if pid is not None else None,
        "refresh_token_age": (now - received) if entry and received else None,
        "relinked_at": state.get("relinked_at"),
        "last_error": (
            {
                **last,
                "explanation": row.title if row else None,
                "next_step": row.fix if row else None,
            }
            if last
            else None
        ),
        "agent_running": pid is not None,
        "agent_pid": pid or None,
    }


def _when(value: float | None, now: float) -> str:
    if value is None:
        return "unknown"
    delta = value - now
    relative = f"in {format_remaining(delta)}" if delta >= 0 else f"{format_remaining(-delta)} ago"
    return f"{iso_time(value)} ({relative})"


def status(ctx: Context, args: argparse.Namespace) -> int:
    """Print the profile's status (``--json``: one object). Exit 0 when signed in, else 3.

    Raises:
        CacheError: the cache is unsafe or corrupt.
    """
    info = collect_status(ctx)
    if args.json:
        ctx.out(json.dumps(info, indent=2))
        return 0 if info["signed_in"] else 3
    now = ctx.world.clock()
    rows: list[tuple[str, str]] = [("Profile", info["profile"])]
    if not info["signed_in"]:
        from deviceflow.cli.hints import login_command

        rows.append(("Signed in", f"no (sign in with: {login_command(ctx)})"))
    else:
        who = info["name"] or info["username"] or "unknown account"
        if info["name"] and info["username"]:
            who = f"{info['name']} <{info['username']}>"
        rows += [
            ("Signed in", f"{who} at {info['issuer']}"),
            ("Access token", _access_line(info, now)),
            ("Last refresh", _when(info["last_refresh_at"], now)),
            ("Next refresh", _when(info["next_refresh_at"], now)),
        ]
        age = info["refresh_token_age"]
        rows.append(("Refresh token", _age_line(age, info["has_refresh_token"])))
    last = info["last_error"]
    if last:
        plain = last["explanation"] or last["description"] or last["error"]
        rows.append(("Last error", f"{plain} ({last['error']}, {_when(last['at'], now)})"))
        if last["next_step"]:
            rows.append(("Next step", last["next_step"]))
    else:
        rows.append(("Last error", "none"))
    agent = f"running (pid {info['agent_pid']})" if info["agent_running"] else "not running"
    rows.append(("Agent", agent))
    for label, value in rows:
        ctx.out(f"{label + ':':<15}{value}")
    return 0 if info["signed_in"] else 3


def _access_line(info: dict[str, Any], now: float) -> str:
    expires = info["access_token_expires_at"]
    if expires is None:
        return "none cached"
    state = "valid" if info["access_token_valid"] else "expired"
    return f"{state}, expires {_when(expires, now)}"


def _age_line(age: float | None, present: bool) -> str:
    if not present:
        return "none (the next expiry needs a new sign-in)"
    if age is None:
        return "present (age unknown)"
    return f"received {format_remaining(age)} ago"
