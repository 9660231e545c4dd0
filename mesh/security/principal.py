"""Who is calling: the subject, its roles and how it proved itself."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

AuthMethod = Literal["jwt", "api_key", "none"]


@dataclass(frozen=True)
class Principal:
    """An authenticated caller. ``method == "none"`` is the anonymous caller of a gateway without auth,
    which is allowed everything (such a gateway only binds loopback unless started with ``--insecure``)."""

    subject: str
    roles: tuple[str, ...] = ()
    method: AuthMethod = "none"
    issuer: str | None = None
    expires_at: int | None = None
    claims: dict[str, object] = field(default_factory=dict, compare=False, hash=False)

    @property
    def unrestricted(self) -> bool:
        return self.method == "none"


ANONYMOUS = Principal(subject="anonymous")
