"""Export and import in JSON lines: the official memory server's file format, read as it is.

Each line is ``{"type": "entity", "name", "entityType", "observations": [...]}`` or ``{"type":
"relation", "from", "to", "relationType"}``. An export adds ``version`` to entity lines and puts each relation after
both of its entities; the official server ignores keys it does not know, so an export loads
there too. An import is checked whole before anything is written: a bad line is refused with its
number and nothing changes. Then entities are created (one already there keeps its type and gets
the file's new observations), and relations last.
"""

from __future__ import annotations

import json
import time
from typing import Any

from servers.kit.cursors import decode_cursor, encode_cursor, fingerprint
from servers.memory.errors import MemoryToolError
from servers.memory.models import ExportPage, ImportResult
from servers.memory.store.base import GraphStore, NewEntity, Provenance, RelationKey

EXPORT_PAGE = 200


def _bad(number: int, why: str) -> MemoryToolError:
    return MemoryToolError(
        "invalid_jsonl", f"line {number}: {why}; nothing was imported. Fix the line and send it again"
    )


def parse_lines(text: str, max_lines: int) -> tuple[list[NewEntity], list[RelationKey]]:
    """The entities and relations of a JSON-lines text.

    Raises:
        MemoryToolError: ``invalid_jsonl`` naming the first bad line; ``too_many_items`` past ``max_lines``.
    """
    entities: dict[str, NewEntity] = {}
    relations: dict[RelationKey, None] = {}
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) > max_lines:
        raise MemoryToolError(
            "too_many_items", f"{len(lines)} lines; at most {max_lines} (memory.max_import_lines): split the file"
        )
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item: Any = json.loads(line)
        except json.JSONDecodeError as exc:
            raise _bad(number, f"not JSON ({exc.msg})") from None
        if not isinstance(item, dict):
            raise _bad(number, "not a JSON object")
        kind = item.get("type")
        if kind == "entity":
            name, entity_type, observations = item.get("name"), item.get("entityType"), item.get("observations", [])
            if not isinstance(name, str) or not name or not isinstance(entity_type, str) or not entity_type:
                raise _bad(number, "an entity needs a non-empty string name and entityType")
            if not isinstance(observations, list) or not all(isinstance(o, str) for o in observations):
                raise _bad(number, "observations must be a list of strings")
            known = entities.get(name)
            merged = tuple(dict.fromkeys([*(known.observations if known else ()), *observations]))
            entities[name] = NewEntity(name, known.entity_type if known else entity_type, merged)
        elif kind == "relation":
            ends = (item.get("from"), item.get("to"), item.get("relationType"))
            if not all(isinstance(v, str) and v for v in ends):
                raise _bad(number, "a relation needs non-empty string from, to and relationType")
            relations[RelationKey(*ends)] = None  # type: ignore[arg-type]
        else:
            raise _bad(number, f"type must be 'entity' or 'relation', not {kind!r}")
    return list(entities.values()), list(relations)


async def import_lines(
    store: GraphStore, namespace: str, text: str, by: Provenance, max_lines: int, max_chars: int
) -> ImportResult:
    entities, relations = parse_lines(text, max_lines)
    for entity in entities:
        for observation in entity.observations:
            if len(observation) > max_chars:
                raise MemoryToolError(
                    "too_long",
                    f"an observation of {entity.name!r} is longer than {max_chars} characters; nothing was imported",
                )
    names = {e.name for e in entities}
    present = {
        r.name
        for r in await store.get_entities(
            namespace, sorted({n for r in relations for n in (r.source, r.target)} - names), by.at
        )
    }
    for relation in relations:
        for end in (relation.source, relation.target):
            if end not in names and end not in present:
                raise MemoryToolError(
                    "not_found",
                    f"a relation names {end!r}, which neither the file nor namespace {namespace!r} holds; nothing was imported",
                )
    created = await store.create_entities(namespace, entities, by)
    fresh = {w.name for w in created}
    existing = [(e.name, list(e.observations)) for e in entities if e.name not in fresh and e.observations]
    added = await store.add_observations(namespace, existing, by) if existing else []
    linked = await store.create_relations(namespace, relations, by) if relations else []
    return ImportResult(
        namespace=namespace,
        entities_created=len(created),
        entities_existing=len(entities) - len(created),
        observations_added=sum(len(w.added) for w in created) + sum(len(w.added) for w in added),
        relations_created=len(linked),
    )


async def export_lines(store: GraphStore, namespace: str, cursor: str | None, limit: int = EXPORT_PAGE) -> ExportPage:
    """One page of the namespace as JSON lines: entities by name, each page followed by its entities' relations."""
    query = fingerprint("export_graph", namespace)
    after = decode_cursor(cursor, query).get("a") if cursor else None
    now = time.time()
    records = await store.list_entities(namespace, after if isinstance(after, str) else None, limit + 1, now)
    page = records[:limit]
    lines = [
        json.dumps(
            {
                "type": "entity",
                "name": r.name,
                "entityType": r.entity_type,
                "observations": [o.content for o in r.observations],
                "version": r.version,
            },
            ensure_ascii=False,
        )
        for r in page
    ]
    names = {r.name for r in page}
    for relation in await store.relations_touching(namespace, sorted(names)):
        if max(relation.source, relation.target) not in names:
            continue  # exported with the later of its two entities, so every relation follows both ends
        lines.append(
            json.dumps(
                {
                    "type": "relation",
                    "from": relation.source,
                    "to": relation.target,
                    "relationType": relation.relation_type,
                },
                ensure_ascii=False,
            )
        )
    more = len(records) > limit
    return ExportPage(
        lines=lines, namespace=namespace, next_cursor=encode_cursor({"a": page[-1].name}, query) if more else None
    )
