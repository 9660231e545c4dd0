"""API keys, stored hashed: the config holds the hex SHA-256 of each key, never the key.

A presented key is hashed and compared with every stored hash in constant time (``hmac.compare_digest``
over all entries, no early exit), so neither timing nor the config file gives a key away. Keys are
random (``new_api_key``: 32 bytes of ``secrets``), so an unsalted SHA-256 is enough: there is no
dictionary to attack. Hash a key for the config with ``python -m mesh.security.api_keys hash``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sys
from collections.abc import Sequence

from mesh.security.principal import Principal
from mesh.security.settings import ApiKeyEntry

KEY_PREFIX = "mcps_"


def new_api_key() -> str:
    """A fresh random key (``mcps_`` + 43 url-safe characters)."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    """The hex SHA-256 of ``key``, as it goes in ``auth.api_keys[].sha256``."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class ApiKeyVerifier:
    """Turns a presented key into a :class:`Principal`, or None."""

    def __init__(self, entries: Sequence[ApiKeyEntry]) -> None:
        self._entries = [(bytes.fromhex(e.sha256.get_secret_value()), e) for e in entries]

    def __bool__(self) -> bool:
        return bool(self._entries)

    def verify(self, key: str) -> Principal | None:
        if not key or len(key) > 512:
            return None
        digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()
        found: ApiKeyEntry | None = None
        for stored, entry in self._entries:  # every entry is compared: no timing hint of which matched
            if hmac.compare_digest(digest, stored):
                found = entry
        if found is None:
            return None
        return Principal(subject=found.name, roles=tuple(found.roles), method="api_key")


def main(argv: Sequence[str]) -> int:
    """``python -m mesh.security.api_keys new`` prints a key and its hash; ``hash KEY`` (or stdin) hashes one."""
    if argv[:1] == ["new"]:
        key = new_api_key()
        print(f"key:    {key}\nsha256: {hash_api_key(key)}")
        return 0
    if argv[:1] == ["hash"]:
        key = argv[1] if len(argv) > 1 else sys.stdin.readline().strip()
        print(hash_api_key(key))
        return 0
    print("usage: python -m mesh.security.api_keys new | hash [KEY]  (KEY read from stdin when left out)")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
