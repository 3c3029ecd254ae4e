"""``deviceflow doctor`` in-process, the diagnoses table, and ``deviceflow status``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deviceflow.cli import errors
from deviceflow.cli.diagnoses import DIAGNOSES, explain
from deviceflow.cli.state import ProfileState
from deviceflow.core import HttpRequest, HttpResponse
from deviceflow.errors import ConnectError, TLSError
from tests.unit.cli.fakeidp import FakeIdP, Harness, reply

DOCUMENTED_EXITS = {
    errors.EXIT_USAGE,
    errors.EXIT_SIGN_IN,
    errors.EXIT_DENIED,
    errors.EXIT_EXPIRED,
    errors.EXIT_NETWORK,
    errors.EXIT_SERVER,
}
ISSUE_CODES = (700082, 70043, 50173, 50076, 53003, 7000218, 700016, 65001, 50194, 90002)


@pytest.mark.parametrize("key", sorted(DIAGNOSES))
def test_every_diagnosis_is_found_complete_and_has_a_documented_exit(key: str) -> None:
    row = DIAGNOSES[key]
    if key.startswith("AADSTS"):
        found = explain("invalid_grant", [12345, int(key[6:])])  # the number wins over the name
    else:
        found = explain(key, ())
    assert found == row
    assert row.title and row.cause and row.fix
    assert row.exit_code in DOCUMENTED_EXITS


@pytest.mark.parametrize("code", ISSUE_CODES)
def test_every_code_the_issue_names_is_explained(code: int) -> None:
    assert f"AADSTS{code}" in DIAGNOSES


@pytest.mark.parametrize(
    ("error", "key"),
    [
        ("authorization_declined", "access_denied"),
        ("code_expired", "expired_token"),
        ("invalid_grant", "invalid_grant"),
        ("something_new", None),
        (None, None),
    ],
)
def test_explain_by_error_name(error: str | None, key: str | None) -> None:
    row = explain(error, ())
    assert (row.key if row else None) == key


def signed_in(tmp_path: Path, idp: FakeIdP | None = None) -> Harness:
    h = Harness(tmp_path, idp)
    assert h.run("login") == 0
    return h


def report(h: Harness, *args: str) -> tuple[int, dict[str, object]]:
    code = h.run("doctor", "--json", *args)
    return code, json.loads(h.stdout.getvalue())


def test_doctor_healthy_profile(tmp_path: Path) -> None:
    h = signed_in(tmp_path)
    code, body = report(h)
    assert code == 0 and body["healthy"] is True
    checks = {c["name"]: c["status"] for c in body["checks"]}  # type: ignore[attr-defined]
    assert checks["clock"] == "skip"  # the fake server sends no Date header
    assert {v for k, v in checks.items() if k != "clock"} == {"ok"}
    assert h.idp.issued == 1  # no refresh: doctor only asked for a device code


def test_doctor_reports_clock_skew_from_the_date_header(tmp_path: Path) -> None:
    idp = FakeIdP()
    h = signed_in(tmp_path, idp)

    def dated(request: HttpRequest) -> HttpResponse:
        answer = idp(request)
        stamp = "Thu, 01 Jan 1970 00:00:00 GMT"  # the harness clock is ~11 days after it
        return HttpResponse(status=answer.status, headers={"Date": stamp}, body=answer.body)

    h.transport.handler = dated
    code, body = report(h)
    assert code == errors.EXIT_USAGE
    clock = next(c for c in body["checks"] if c["name"] == "clock")  # type: ignore[attr-defined]
    assert clock["status"] == "fail" and "ahead of the server's clock" in clock["detail"]


def test_doctor_names_the_ca_variables_when_tls_is_not_trusted(tmp_path: Path) -> None:
    h = signed_in(tmp_path)

    def untrusted(request: HttpRequest) -> HttpResponse:
        raise TLSError("certificate verify failed: self-signed certificate", request=request)

    h.transport.handler = untrusted
    h.environ["SSL_CERT_FILE"] = "/etc/ssl/private-ca.pem"
    assert h.run("doctor") == errors.EXIT_NETWORK
    out = h.stdout.getvalue()
    assert "SSL_CERT_FILE or REQUESTS_CA_BUNDLE" in out and "/etc/ssl/private-ca.pem" in out
    assert "SKIP  client" in out


def test_doctor_network_failure_names_the_proxy(tmp_path: Path) -> None:
    h = signed_in(tmp_path)

    def refused(request: HttpRequest) -> HttpResponse:
        raise ConnectError("connection refused", request=request)

    h.transport.handler = refused
    h.environ["HTTPS_PROXY"] = "http://user:secret@proxy.test:3128"
    assert h.run("doctor") == errors.EXIT_NETWORK
    out = h.stdout.getvalue()
    assert "cannot reach" in out
    assert "secret" not in out


def test_doctor_explains_a_refusal_of_the_device_code(tmp_path: Path) -> None:
    idp = FakeIdP()
    h = Harness(tmp_path, idp)

    def refuse(request: HttpRequest) -> HttpResponse:
        if request.url.endswith("/devicecode"):
            body = {
                "error": "invalid_client",
                "error_description": "AADSTS7000218: The request body must contain ...",
                "error_codes": [7000218],
            }
            return reply(400, body)
        return idp(request)

    h.transport.handler = refuse
    assert h.run("doctor") == errors.EXIT_USAGE
    out = h.stdout.getvalue()
    assert "Diagnosis: AADSTS7000218: public client flows are off" in out
    assert "Allow public client flows: Yes" in out
    assert "FAIL  sign-in   nobody is signed in" in out


def test_doctor_and_status_explain_the_last_refused_refresh(tmp_path: Path) -> None:
    idp = FakeIdP()
    h = signed_in(tmp_path, idp)
    body = {
        "error": "invalid_grant",
        "error_description": "AADSTS70043: ...",
        "error_codes": [70043],
    }
    idp.refresh_answer = lambda: reply(400, body)
    assert h.run("token", "--min-validity", "100000") == errors.EXIT_SIGN_IN
    code, rep = report(h)
    assert code == errors.EXIT_SIGN_IN
    assert rep["diagnosis"]["key"] == "AADSTS70043"  # type: ignore[index]
    assert h.run("status") == 0
    out = h.stdout.getvalue()
    assert "Last error:    sign-in frequency reached (invalid_grant" in out
    assert "Next step:" in out and "Agent:         not running" in out
    # A later good refresh clears it.
    idp.refresh_answer = None
    assert h.run("token", "--min-validity", "100000") == 0
    assert report(h)[0] == 0


def test_doctor_without_a_client_id_is_a_setup_problem(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    del h.environ["DEVICEFLOW_CLIENT_ID"]
    code, body = report(h)
    assert code == errors.EXIT_USAGE
    statuses = [(c["name"], c["status"]) for c in body["checks"]]  # type: ignore[attr-defined]
    assert statuses[1] == ("settings", "fail") and statuses[2] == ("dns", "skip")


def test_status_json_and_text(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    assert h.run("status") == errors.EXIT_SIGN_IN
    assert "Signed in:     no" in h.stdout.getvalue()
    assert h.run("login") == 0
    h.sleep(100)
    assert h.run("status", "--json") == 0
    info = json.loads(h.stdout.getvalue())
    assert info["signed_in"] and info["username"] == "adele@demo.example"
    assert info["refresh_token_age"] == 100 and info["last_refresh_at"] is None
    assert info["agent_running"] is False and info["next_refresh_at"] is None
    assert "refresh-" not in h.stdout.getvalue() and "access-" not in h.stdout.getvalue()
    assert h.run("status") == 0
    out = h.stdout.getvalue()
    assert "Signed in:     Adele Vance <adele@demo.example>" in out
    assert "Refresh token: received 1:40 ago" in out


def test_logout_forgets_the_state(tmp_path: Path) -> None:
    h = signed_in(tmp_path)
    state = ProfileState(str(h.cache_dir), "default")
    assert state.read()["signed_in_at"] == h.now
    assert h.run("logout") == 0
    assert state.read()["signed_in_at"] is None


def test_doctor_dns_failure_and_a_proxy_that_resolves_for_us(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.environ["DEVICEFLOW_AUTHORITY"] = "http://nowhere.test/demo"
    assert h.run("doctor") == errors.EXIT_NETWORK
    assert "nowhere.test does not resolve" in h.stdout.getvalue()
    h.environ["HTTPS_PROXY"] = "http://proxy.test:3128"
    h.run("doctor")
    out = h.stdout.getvalue()
    assert "WARN  dns" in out and "through the proxy http://proxy.test:3128" in out


def test_doctor_calls_an_html_page_a_server_problem(tmp_path: Path) -> None:
    idp = FakeIdP()
    h = signed_in(tmp_path, idp)

    def proxy_page(request: HttpRequest) -> HttpResponse:
        if "well-known" in request.url:
            return HttpResponse(status=502, body=b"<html>Bad gateway</html>")
        return idp(request)

    h.transport.handler = proxy_page
    assert h.run("doctor") == errors.EXIT_SERVER
    assert "discovery refused (HTTP 502)" in h.stdout.getvalue()
