"""Where the Redis store keeps what: key names, and how records are written into and read from hashes.

Every key starts with the operator's ``key_prefix`` (``P``), so two servers on one Redis keep apart.
A namespace lives in a *space* ``P ns:<namespace>@<generation>:``; with a namespace TTL the
generation is the value of ``P gen:<namespace>``, which expires with the namespace (a write
refreshes it), so an expired namespace vanishes at once and whole; without a TTL it is ``0``.

Global keys: ``obs-next`` (the observation id counter), ``obs:<id>`` (an observation), ``pending``
(ids waiting for a vector), ``expiring`` (what a TTL will expire, by expiry time), ``namespaces``,
``gens:<namespace>`` (generations to reclaim). In a space: ``names`` (entity names, lexicographic),
``e:<name>`` (an entity), ``o:<name>`` (its observation ids, history included), ``cur:<name>`` (its
current observations by content hash), ``exp-e``, ``live-o``, ``obs``, ``vec``, ``rel``, ``ro:`` and
``ri:`` (relations from and to a name), and the text index: ``vocab``, ``w:<word>``, ``g:<trigram>``,
``len``, ``totals``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from servers.memory.store.base import ObservationRecord, RelationKey

NO_TTL_GENERATION = "0"
INFINITY = math.inf


@dataclass(frozen=True)
class Keys:
    """The global keys under one prefix."""

    prefix: str

    @property
    def obs_next(self) -> str:
        return f"{self.prefix}obs-next"

    def obs(self, oid: int | str) -> str:
        return f"{self.prefix}obs:{oid}"

    @property
    def pending(self) -> str:
        return f"{self.prefix}pending"

    @property
    def expiring(self) -> str:
        return f"{self.prefix}expiring"

    @property
    def namespaces(self) -> str:
        return f"{self.prefix}namespaces"

    def generation(self, namespace: str) -> str:
        return f"{self.prefix}gen:{namespace}"

    def generation_next(self, namespace: str) -> str:
        return f"{self.prefix}gen-next:{namespace}"

    def generations(self, namespace: str) -> str:
        return f"{self.prefix}gens:{namespace}"

    def space(self, namespace: str, generation: str) -> Space:
        return Space(self, namespace, generation, f"{self.prefix}ns:{namespace}@{generation}:")


@dataclass(frozen=True)
class Space:
    """The keys of one namespace generation."""

    keys: Keys
    namespace: str
    generation: str
    base: str

    def entity(self, name: str) -> str:
        return f"{self.base}e:{name}"

    def history(self, name: str) -> str:
        return f"{self.base}o:{name}"

    def current(self, name: str) -> str:
        return f"{self.base}cur:{name}"

    def out(self, name: str) -> str:
        return f"{self.base}ro:{name}"

    def into(self, name: str) -> str:
        return f"{self.base}ri:{name}"

    def word(self, word: str) -> str:
        return f"{self.base}w:{word}"

    def gram(self, gram: str) -> str:
        return f"{self.base}g:{gram}"

    @property
    def names(self) -> str:
        return f"{self.base}names"

    @property
    def expiring_entities(self) -> str:
        return f"{self.base}exp-e"

    @property
    def live_observations(self) -> str:
        return f"{self.base}live-o"

    @property
    def observations(self) -> str:
        return f"{self.base}obs"

    @property
    def vectors(self) -> str:
        return f"{self.base}vec"

    @property
    def relations(self) -> str:
        return f"{self.base}rel"

    @property
    def vocabulary(self) -> str:
        return f"{self.base}vocab"

    @property
    def lengths(self) -> str:
        return f"{self.base}len"

    @property
    def totals(self) -> str:
        return f"{self.base}totals"

    def expiring_entity(self, name: str) -> str:
        """The member of the global ``expiring`` set that stands for this entity."""
        return json.dumps(["e", self.base, name])

    def expiring_observation(self, oid: int) -> str:
        return json.dumps(["o", self.base, oid])


def relation_member(key: RelationKey) -> str:
    return json.dumps([key.source, key.target, key.relation_type])


def relation_key(member: str) -> RelationKey:
    source, target, relation_type = json.loads(member)
    return RelationKey(source, target, relation_type)


def optional_float(value: Any) -> float | None:
    return None if value in (None, "") else float(value)


def optional_int(value: Any) -> int | None:
    return None if value in (None, "") else int(value)


def stored(value: float | int | None) -> str:
    """A number as a hash field holds it; ``""`` for none."""
    return "" if value is None else repr(value)


def live(expires_at: float | None, now: float) -> bool:
    return expires_at is None or expires_at > now


def expiry_score(expires_at: float | None) -> float:
    return INFINITY if expires_at is None else expires_at


def current_entry(record: ObservationRecord) -> str:
    """What ``cur:<name>`` holds per current observation: enough to show it without reading ``obs:<id>``."""
    return json.dumps([record.id, record.content, record.created_at, record.principal, record.tool, record.expires_at])


def current_record(entity: str, entry: str) -> ObservationRecord:
    oid, content, created_at, principal, tool, expires_at = json.loads(entry)
    return ObservationRecord(int(oid), entity, content, created_at, principal, tool, expires_at)


def observation_fields(space: Space, record: ObservationRecord, content_key: str) -> dict[str, str]:
    return {
        "id": str(record.id),
        "space": space.base,
        "entity": record.entity,
        "content": record.content,
        "hash": content_key,
        "created_at": stored(record.created_at),
        "principal": record.principal,
        "tool": record.tool,
        "expires_at": stored(record.expires_at),
        "superseded_by": "",
        "superseded_at": "",
    }


def observation_record(fields: dict[str, str]) -> ObservationRecord:
    return ObservationRecord(
        id=int(fields["id"]),
        entity=fields["entity"],
        content=fields["content"],
        created_at=float(fields["created_at"]),
        principal=fields["principal"],
        tool=fields["tool"],
        expires_at=optional_float(fields.get("expires_at")),
        superseded_by=optional_int(fields.get("superseded_by")),
        superseded_at=optional_float(fields.get("superseded_at")),
    )
