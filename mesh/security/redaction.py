"""Keeping secrets out of logs and audit records.

- :func:`digest_arguments`: the SHA-256 of the canonical JSON of a call's arguments — equal arguments
  give equal digests (to correlate calls), the values themselves are never stored.
- :func:`redact_text`: bearer tokens, JWTs, API keys, ``Authorization`` values and passwords in URLs
  replaced with ``***``.
- :class:`RedactionFilter`: a logging filter applying both to every record's message and extras
  (values of keys that name a secret — token, secret, password, authorization, api_key — are
  replaced whole).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from typing import Any

REDACTED = "***"
_SECRET_KEY = re.compile(r"(token|secret|password|passwd|authorization|api[_-]?key|cookie|credential)", re.I)
_PATTERNS = (
    # JSON Web Tokens: three base64url parts, the first two starting with '{"' encoded.
    re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"),
    re.compile(r"(?i)\b(bearer|apikey|basic)\s+[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(r"\bmcps_[A-Za-z0-9_-]{16,}"),
    # user:password@ in URLs
    re.compile(r"(?<=://)([^/\s:@]+):([^@\s/]+)@"),
)


def digest_arguments(arguments: Any) -> str:
    """Hex SHA-256 of ``arguments`` as canonical JSON (sorted keys, no spaces)."""
    canonical = json.dumps(arguments, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def redact_text(text: str) -> str:
    if not text:
        return text
    for pattern in _PATTERNS:
        if pattern.groups == 2:
            text = pattern.sub(lambda m: f"{m.group(1)}:{REDACTED}@", text)
        elif pattern.groups == 1:
            text = pattern.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
        else:
            text = pattern.sub(REDACTED, text)
    return text


def redact_value(key: str, value: Any) -> Any:
    if _SECRET_KEY.search(key):
        return REDACTED
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(key, v) for v in value]
    return value


_RESERVED = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None)).keys()) | {"message", "asctime"}


class RedactionFilter(logging.Filter):
    """Redacts the message and the extras of every record that passes the handler it is attached to."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is the formatter's to report
            return True
        cleaned = redact_text(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        for key, value in list(vars(record).items()):
            if key in _RESERVED or key.startswith("_"):
                continue
            redacted = redact_value(key, value)
            if redacted is not value and redacted != value:
                setattr(record, key, redacted)
        return True
