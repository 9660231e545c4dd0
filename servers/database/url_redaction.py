"""Keep connection secrets out of everything a client or a log line sees.

A connection URL may carry a user name and password (``postgresql://app:pw@host/db``) or a
token in its query. :func:`public_url` is the form safe to show; :func:`redact` scrubs the
secret parts of a URL (and the URL itself) out of any text, such as a driver's error message.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import parse_qsl, urlencode, urlsplit

REDACTED = "***"
_SECRET_QUERY_KEYS = ("password", "pass", "pwd", "token", "secret", "key", "sslpassword")
_ADDRESS_QUERY_KEYS = ("host", "port")
"""Query parameters that say where the database is (``?host=/var/run/postgresql`` for a Unix socket): shown."""


def url_secrets(url: str) -> list[str]:
    """The parts of ``url`` that must never be shown: the password, secret query values, the whole URL."""
    found = [url]
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return found
    if password:
        found.append(password)
    for key, value in parse_qsl(parts.query, keep_blank_values=False):
        if value and any(word in key.lower() for word in _SECRET_QUERY_KEYS):
            found.append(value)
    return found


def public_url(url: str) -> str:
    """``url`` with its password and query dropped, except the address parameters ``host`` and ``port``:
    ``postgresql://app:***@host:5432/db``, ``postgresql://app@/db?host=/var/run/postgresql``."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
        user = parts.username
    except ValueError:
        return f"{url.partition('://')[0]}://{REDACTED}"
    credentials = f"{user or ''}:{REDACTED}@" if parts.password else f"{user}@" if user else ""
    if parts.scheme.startswith("sqlite"):
        return f"{parts.scheme}://{parts.path}" if not parts.netloc else f"{parts.scheme}://{parts.netloc}{parts.path}"
    address = [(key, value) for key, value in parse_qsl(parts.query) if key in _ADDRESS_QUERY_KEYS]
    query = f"?{urlencode(address, safe='/')}" if address else ""
    return f"{parts.scheme}://{credentials}{host}{port}{parts.path}{query}"


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every occurrence of each secret replaced by ``***`` (longest first)."""
    for secret in sorted({s for s in secrets if s and len(s) >= 3}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text
