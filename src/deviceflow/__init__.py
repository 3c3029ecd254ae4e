"""deviceflow: the OAuth 2.0 Device Authorization Grant (RFC 8628), end to end."""

__version__ = "0.1.0.dev0"
