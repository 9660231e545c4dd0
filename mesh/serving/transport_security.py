"""DNS-rebinding protection for the SDK's MCP endpoints: on for loopback binds, off for wildcard ones."""

from __future__ import annotations

from mcp.server.transport_security import TransportSecuritySettings

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def transport_security_for(host: str) -> TransportSecuritySettings | None:
    """DNS-rebinding protection on loopback binds (a foreign Host header gets 421); none on wildcard binds."""
    if host in LOOPBACK_HOSTS:
        return TransportSecuritySettings(
            enable_dns_rebinding_protection=True,
            allowed_hosts=["127.0.0.1:*", "localhost:*", "[::1]:*"],
            allowed_origins=["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"],
        )
    return None
