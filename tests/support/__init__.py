"""Support code shared by the test folders (no tests here).

- ``tools``: required external tools (skip locally, fail in CI), loopback ports, Chromium;
- ``clock``: the fake clock tests move by hand;
- ``config``: server configuration files written from mappings;
- ``pages``: CSRF tokens of the verification pages, and an approval over plain HTTP;
- ``serverproc``: ``deviceflow serve`` as a real subprocess, and the e2e configuration;
- ``postgres``: throwaway PostgreSQL databases;
- ``tls``: a self-signed certificate for loopback TLS servers;
- ``secret_service``: a private Secret Service (D-Bus and GNOME Keyring), a headless keyring;
- ``app_harness``: the server app in process, behind ``httpx.ASGITransport``;
- ``pair``: the client core against the server app, in process, without sockets;
- ``grant``, ``grant_fixtures``: the grant-engine helpers and fixtures;
- ``fixtures``: fixtures several folders share (their ``conftest.py`` imports them).
"""
