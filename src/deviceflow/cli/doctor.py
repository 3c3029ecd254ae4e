"""``deviceflow doctor``: check everything a sign-in depends on, and explain what is wrong.

The checks run in the order a request travels, and a failed step skips the ones that need it:

1. ``cache``: the profile's token file (permissions, corruption) and, for keyring profiles, the
   OS keyring;
2. ``settings``: a client id and an authority or issuer to check against;
3. ``dns``: the authority's host name resolves (proxy variables are named when set);
4. ``network``: the discovery document can be fetched (TLS trust: an untrusted certificate
   names ``SSL_CERT_FILE`` / ``REQUESTS_CA_BUNDLE``);
5. ``clock``: the device's clock against the server's ``Date`` header (tokens carry times);
6. ``tenant``: discovery answers for the tenant (Entra: AADSTS90002 when it does not exist);
7. ``client``: the client id exists and may use the device flow: a device code is requested and
   abandoned (Entra: 700016, 7000218, 53003 ...);
8. ``sign-in``: someone is signed in, and the last refresh or sign-in did not fail (the last error
   recorded by ``token``, ``login`` or ``agent``, explained from :mod:`deviceflow.cli.diagnoses`).

Exit codes: 0 when every check passes; otherwise the code of the first failed check, from
``deviceflow.cli.errors``: 2 local setup or app registration (cache, settings, clock, client id,
tenant, public client flows), 3 sign-in required, 4 refused by policy or consent, 5 a code expired,
6 network (DNS, proxy, TLS, connection), 7 server or protocol error.
"""

from __future__ import annotations

import argparse
import json
import socket
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlsplit

from deviceflow.cli.debug import redact_url
from deviceflow.cli.diagnoses import Diagnosis, explain
from deviceflow.cli.errors import (
    EXIT_NETWORK,
    EXIT_OK,
    EXIT_SERVER,
    EXIT_SIGN_IN,
    EXIT_USAGE,
    CliError,
    exit_code_for,
)
from deviceflow.cli.state import ProfileState, iso_time

if TYPE_CHECKING:
    from deviceflow.cache.base import CacheEntry
    from deviceflow.cli.context import Context
    from deviceflow.client import DeviceFlowClient
    from deviceflow.core import HttpResponse

__all__ = ["CLOCK_SKEW_LIMIT", "Check", "Report", "doctor", "run_checks"]

#: Clock skew (seconds) beyond which tokens may be refused as not yet valid or already expired.
CLOCK_SKEW_LIMIT = 300.0
_PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY")


class Check(NamedTuple):
    """One check's outcome: ``ok``, ``warn``, ``fail`` or ``skip``."""

    name: str
    status: str
    detail: str
    exit_code: int = EXIT_OK


class Report(NamedTuple):
    """Every check, the diagnosis of the first failure that has one, and the exit code."""

    profile: str
    checks: list[Check]
    diagnosis: Diagnosis | None

    @property
    def exit_code(self) -> int:
        """0, or the code of the first failed check."""
        return next((c.exit_code for c in self.checks if c.status == "fail"), EXIT_OK)

    def as_dict(self) -> dict[str, Any]:
        """The ``--json`` form."""
        return {
            "profile": self.profile,
            "healthy": self.exit_code == EXIT_OK,
            "exit_code": self.exit_code,
            "checks": [c._asdict() for c in self.checks],
            "diagnosis": self.diagnosis.as_dict() if self.diagnosis else None,
        }


class _Doctor:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.checks: list[Check] = []
        self.diagnosis: Diagnosis | None = None

    def add(self, name: str, status: str, detail: str, exit_code: int = EXIT_OK) -> None:
        self.checks.append(Check(name, status, detail, exit_code))

    def fail(self, name: str, detail: str, exit_code: int, row: Diagnosis | None = None) -> None:
        if row is not None:
            detail = f"{detail}: {row.key} ({row.title})"
            exit_code = row.exit_code
            self.diagnosis = self.diagnosis or row
        self.add(name, "fail", detail, exit_code)

    def skip(self, *names: str) -> None:
        for name in names:
            self.add(name, "skip", "not checked (an earlier check failed)")

    def run(self) -> Report:
        entry = self.check_cache()
        client = self.check_settings(entry)
        later = ("dns", "network", "clock", "tenant", "client")
        if client is None:
            self.skip(*later)
        else:
            self.check_server(client, entry)
        self.check_sign_in(entry)
        return Report(self.ctx.settings.profile, self.checks, self.diagnosis)

    # -- local --------------------------------------------------------------------------------

    def check_cache(self) -> CacheEntry | None:
        s = self.ctx.settings
        try:
            entry = self.ctx.cache().load(s.profile)
        except Exception as exc:  # unsafe permissions, corrupt file, keyring unavailable
            self.fail("cache", str(exc), exit_code_for(exc))
            return None
        where = "the OS keyring" if s.keyring else s.cache_dir
        self.add("cache", "ok", f"profile {s.profile!r} readable in {where}")
        return entry

    def check_settings(self, entry: CacheEntry | None) -> DeviceFlowClient | None:
        from deviceflow.client import DeviceFlowClient

        ctx = self.ctx
        if entry is not None:
            from deviceflow.cli.tokens import endpoints_of

            client = DeviceFlowClient(
                entry.client_id,
                endpoints=endpoints_of(entry),
                transport=ctx.transport,
                sleep=lambda _s: None,
                wall_clock=ctx.world.clock,
            )
            source = "the signed-in profile"
        else:
            from deviceflow.cli.login import make_client

            try:
                client = make_client(ctx)
            except CliError as exc:
                self.fail("settings", str(exc), exc.exit_code)
                return None
            source = "the settings"
        where = ctx.settings.issuer or _issuer_of(client) or ""
        self.add("settings", "ok", f"client {client.client_id} at {where} (from {source})")
        return client

    # -- the server ---------------------------------------------------------------------------

    def check_server(self, client: DeviceFlowClient, entry: CacheEntry | None) -> None:
        from deviceflow.core import discovery_requests

        issuer = self.ctx.settings.issuer if entry is None else entry.issuer
        issuer = issuer or _issuer_of(client)
        if not issuer:
            self.skip("dns", "network", "clock", "tenant")
        else:
            request = discovery_requests(issuer)[0]
            if not self.check_dns(request.url):
                self.skip("network", "clock", "tenant", "client")
                return
            response = self.check_network(request)
            if response is None:
                self.skip("clock", "tenant", "client")
                return
            self.check_clock(response)
            self.check_tenant(response)
        self.check_client(client, entry)

    def check_dns(self, url: str) -> bool:
        parts = urlsplit(url)
        host = parts.hostname or ""
        environ = self.ctx.world.environ
        proxy = next((environ[v] for v in _PROXY_VARIABLES if environ.get(v)), None)
        via = f" (requests go through the proxy {redact_url(proxy)})" if proxy else ""
        try:
            resolve = self.ctx.world.resolve or socket.getaddrinfo
            infos = resolve(host, parts.port or 443, proto=socket.IPPROTO_TCP)
        except (OSError, UnicodeError) as exc:
            if proxy:  # the proxy resolves names; the device need not
                self.add("dns", "warn", f"{host} does not resolve here ({exc}){via}")
                return True
            self.fail(
                "dns", f"{host} does not resolve ({exc}); check the DNS settings", EXIT_NETWORK
            )
            return False
        addresses = sorted({str(info[4][0]) for info in infos})
        self.add("dns", "ok", f"{host} resolves to {', '.join(addresses[:3])}{via}")
        return True

    def check_network(self, request: Any) -> HttpResponse | None:
        from deviceflow.errors import ProxyError, TLSError, TransportError

        try:
            response = self.ctx.transport.handle_request(request, timeout=15.0)
        except TLSError as exc:
            environ = self.ctx.world.environ
            named = [v for v in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE") if environ.get(v)]
            now = f" (now: {', '.join(f'{v}={environ[v]}' for v in named)})" if named else ""
            self.fail(
                "network",
                f"the server's certificate is not trusted ({exc}); if it is signed by a private CA,"
                f" point SSL_CERT_FILE or REQUESTS_CA_BUNDLE at its PEM file{now}",
                EXIT_NETWORK,
            )
            return None
        except ProxyError as exc:
            self.fail("network", f"the proxy refused ({exc}); check HTTPS_PROXY", EXIT_NETWORK)
            return None
        except TransportError as exc:
            self.fail("network", f"cannot reach {request.url} ({exc})", EXIT_NETWORK)
            return None
        self.add("network", "ok", f"GET {request.url}: HTTP {response.status}")
        return response

    def check_clock(self, response: HttpResponse) -> None:
        from deviceflow.core._codec import http_date

        stamp = response.header("date")
        server = http_date(stamp) if stamp else None
        if server is None:
            self.add("clock", "skip", "the server sent no Date header")
            return
        skew = self.ctx.world.clock() - server
        ahead = "ahead of" if skew > 0 else "behind"
        text = f"{abs(skew):.0f} s {ahead} the server's clock"
        if abs(skew) > CLOCK_SKEW_LIMIT:
            self.fail("clock", f"{text}; set the time (timedatectl set-ntp true)", EXIT_USAGE)
        else:
            self.add("clock", "ok", f"within {max(1, round(abs(skew)))} s of the server's Date")

    def check_tenant(self, response: HttpResponse) -> None:
        from deviceflow.core._codec import is_success, try_decode_json_object

        body = try_decode_json_object(response)
        if is_success(response.status) and body is not None:
            self.add("tenant", "ok", f"discovery answers for {body.get('issuer', 'the issuer')}")
            return
        error, codes = _error_of(body)
        row = explain(error, codes)
        text = f"discovery refused (HTTP {response.status}{', ' + error if error else ''})"
        broken = body is None or response.status >= 500  # an outage or a proxy's page
        self.fail("tenant", text, EXIT_SERVER if broken else EXIT_USAGE, row)

    def check_client(self, client: DeviceFlowClient, entry: CacheEntry | None) -> None:
        from deviceflow.errors import DeviceFlowError, OAuthError

        settings = self.ctx.settings
        resource = entry.resource if entry is not None else settings.resource
        scopes = () if resource else (entry.scopes if entry is not None else settings.scopes)
        try:
            client.start(scopes, resource=resource)
        except OAuthError as exc:
            row = explain(exc.error, exc.error_codes)
            self.fail("client", f"the device authorization request was refused ({exc.error})",
                      EXIT_USAGE, row)  # fmt: skip
            return
        except DeviceFlowError as exc:
            self.fail("client", f"the device authorization request failed ({exc})",
                      exit_code_for(exc))  # fmt: skip
            return
        self.add(
            "client",
            "ok",
            f"{client.client_id} may use the device code flow (a code was requested and abandoned)",
        )

    # -- the sign-in ----------------------------------------------------------------------------

    def check_sign_in(self, entry: CacheEntry | None) -> None:
        s = self.ctx.settings
        state = ProfileState(s.cache_dir, s.profile).read()
        last = state.get("last_error")
        row = explain(last.get("error"), last.get("error_codes") or ()) if last else None
        if entry is None:
            from deviceflow.cli.hints import login_command

            text = f"nobody is signed in on profile {s.profile!r}; run: {login_command(self.ctx)}"
            if last:
                text += f" (the last attempt failed: {last.get('error')})"
            self.fail("sign-in", text, EXIT_SIGN_IN, row)
            return
        who = entry.account.label()
        if last:
            when = iso_time(float(last.get("at") or 0))
            text = f"{who}: the last {last.get('source', 'refresh')} failed at {when}"
            self.fail("sign-in", text, EXIT_SERVER if row is None else row.exit_code, row)
            return
        if not entry.refresh_token:
            self.fail("sign-in", f"{who}: no refresh token; run deviceflow login", EXIT_SIGN_IN)
            return
        self.add("sign-in", "ok", f"{who}, with a refresh token")


def _issuer_of(client: DeviceFlowClient) -> str | None:
    endpoints = client.endpoints
    return endpoints.issuer if endpoints is not None else None


def _error_of(body: dict[str, Any] | None) -> tuple[str | None, tuple[int, ...]]:
    from deviceflow.core._codec import aadsts_codes, error_code

    if body is None:
        return None, ()
    description = body.get("error_description")
    return error_code(body), aadsts_codes(
        body, description if isinstance(description, str) else None
    )


def run_checks(ctx: Context) -> Report:
    """Run every check (see the module docstring) and return the report."""
    return _Doctor(ctx).run()


def doctor(ctx: Context, args: argparse.Namespace) -> int:
    """``deviceflow doctor [--json]``: print the checks and a diagnosis; return the exit code."""
    report = run_checks(ctx)
    if args.json:
        ctx.out(json.dumps(report.as_dict(), indent=2))
        return report.exit_code
    ctx.out(f"deviceflow doctor (profile {report.profile})")
    for check in report.checks:
        ctx.out(f"  {check.status.upper():<5} {check.name:<9} {check.detail}")
    row = report.diagnosis
    if row is not None:
        ctx.out(f"Diagnosis: {row.key}: {row.title}")
        ctx.out(f"  cause:     {row.cause}")
        ctx.out(f"  next step: {row.fix}")
        if row.admin:
            ctx.out(f"  admin:     {row.admin}")
    failed = [c for c in report.checks if c.status == "fail"]
    if failed:
        ctx.out(f"Summary: {len(failed)} problem(s); exit {report.exit_code}")
    else:
        ctx.out("Summary: healthy")
    return report.exit_code
