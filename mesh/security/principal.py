"""Who is calling: the subject, its roles and how it proved itself."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

AuthMethod = Literal["jwt", "api_key", "stdio", "none"]


@dataclass(frozen=True)
class Principal:
    """An authenticated caller. ``method == "none"`` is the anonymous caller of a gateway without auth,
    which is allowed everything (such a gateway only binds loopback unless started with ``--insecure``).
    ``method == "stdio"`` is the local user of a stdio gateway (no credential travels over stdio); it is
    subject to roles unless ``unrestricted_local`` (a config with no roles and no ``auth.stdio``)."""

    subject: str
    roles: tuple[str, ...] = ()
    method: AuthMethod = "none"
    issuer: str | None = None
    expires_at: int | None = None
    claims: dict[str, object] = field(default_factory=dict, compare=False, hash=False)
    unrestricted_local: bool = False

    @property
    def unrestricted(self) -> bool:
        return self.method == "none" or self.unrestricted_local


ANONYMOUS = Principal(subject="anonymous")
