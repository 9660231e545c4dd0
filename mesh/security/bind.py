"""Safe defaults for listening: without authentication, loopback only unless ``--insecure``."""

from __future__ import annotations

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def is_loopback(host: str) -> bool:
    return host in LOOPBACK or host.startswith("127.")


def refuse_unprotected_bind(what: str, host: str, *, protected: bool, insecure: bool, how: str) -> str | None:
    """The message to refuse with when ``what`` would listen beyond loopback unprotected, else None."""
    if protected or insecure or is_loopback(host):
        return None
    return (
        f"refusing to serve the {what} on {host} without authentication: anyone who reaches that address "
        f"could call every tool. Configure {how}, bind 127.0.0.1, or pass --insecure to accept the risk"
    )
