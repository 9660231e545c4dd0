"""DNS-rebinding protection is on for loopback binds and off for wildcard binds."""

from __future__ import annotations

import pytest

from mesh.serving.transport_security import LOOPBACK_HOSTS, transport_security_for


@pytest.mark.parametrize("host", LOOPBACK_HOSTS)
def test_a_loopback_bind_accepts_only_loopback_hosts_and_origins(host: str) -> None:
    security = transport_security_for(host)
    assert security is not None and security.enable_dns_rebinding_protection
    assert security.allowed_hosts == ["127.0.0.1:*", "localhost:*", "[::1]:*"]
    assert security.allowed_origins == ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"]


def test_a_wildcard_bind_leaves_host_checks_to_the_deployment() -> None:
    assert transport_security_for("0.0.0.0") is None
