"""The deviceflow authorization server (RFC 8628 + refresh, discovery, JWKS, pages, Graph)."""
