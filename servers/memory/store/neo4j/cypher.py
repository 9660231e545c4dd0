"""Every Cypher statement the Neo4j store runs, as constants (the test double interprets them by their text).

The graph: ``(:MemoryEntity {key, namespace, name, type, version, created_at, updated_at, principal,
tool, expires_at, doc, length})`` where ``key`` is the namespace and the name (unique);
``(:MemoryObservation {id, namespace, entity, content, hash, created_at, principal, tool,
expires_at, superseded_by, superseded_at, vector})`` (``id`` unique, from the one
``(:MemoryCounter {name: 'observation'})``); and ``(a)-[:MEMORY_RELATION {type, created_at,
principal}]->(b)``, one per (a, b, type). ``doc`` is the entity's case-folded searchable text.
A write first locks the entities it changes (``SET e._lock = true REMOVE e._lock`` takes the
node's write lock), in key order, so concurrent writers of one entity run one after the other.
"""

from __future__ import annotations

LIVE_E = "(e.expires_at IS NULL OR e.expires_at > $now)"
LIVE_O = "(o.expires_at IS NULL OR o.expires_at > $now)"
OBSERVATION = (
    "o.id AS id, o.entity AS entity, o.content AS content, o.hash AS hash, o.created_at AS created_at, "
    "o.principal AS principal, o.tool AS tool, o.expires_at AS expires_at, o.superseded_by AS superseded_by, "
    "o.superseded_at AS superseded_at"
)
ENTITY = (
    "e.name AS name, e.type AS type, e.version AS version, e.created_at AS created_at, "
    "e.updated_at AS updated_at, e.principal AS principal, e.expires_at AS expires_at"
)
RELATION = "a.name AS source, b.name AS target, r.type AS type, r.created_at AS created_at, r.principal AS principal"

# -- schema (on open) ----------------------------------------------------------------------------

CONSTRAINT_ENTITY = "CREATE CONSTRAINT memory_entity_key IF NOT EXISTS FOR (e:MemoryEntity) REQUIRE e.key IS UNIQUE"
CONSTRAINT_OBSERVATION = (
    "CREATE CONSTRAINT memory_observation_id IF NOT EXISTS FOR (o:MemoryObservation) REQUIRE o.id IS UNIQUE"
)
INDEX_ENTITY_NAMESPACE = "CREATE INDEX memory_entity_namespace IF NOT EXISTS FOR (e:MemoryEntity) ON (e.namespace)"
INDEX_OBSERVATION_ENTITY = (
    "CREATE INDEX memory_observation_entity IF NOT EXISTS FOR (o:MemoryObservation) ON (o.namespace, o.entity)"
)
FULLTEXT_INDEX = "CREATE FULLTEXT INDEX memory_entity_text IF NOT EXISTS FOR (e:MemoryEntity) ON EACH [e.doc]"
COUNTER = "MERGE (c:MemoryCounter {name: 'observation'}) ON CREATE SET c.next = 0"
SCHEMA = (CONSTRAINT_ENTITY, CONSTRAINT_OBSERVATION, INDEX_ENTITY_NAMESPACE, INDEX_OBSERVATION_ENTITY)
PING = "CALL dbms.components() YIELD name, versions RETURN name, versions[0] AS version"

# -- writes --------------------------------------------------------------------------------------

RESERVE_IDS = "MATCH (c:MemoryCounter {name: 'observation'}) SET c.next = c.next + $count RETURN c.next AS last"
LOCK_ENTITIES = (
    "UNWIND $keys AS key MATCH (e:MemoryEntity {key: key}) WITH e ORDER BY e.key "
    "SET e._lock = true REMOVE e._lock "
    "RETURN e.name AS name, e.type AS type, e.version AS version, e.expires_at AS expires_at"
)
CURRENT_OBSERVATIONS = (
    "MATCH (o:MemoryObservation {namespace: $namespace, entity: $name}) WHERE o.superseded_by IS NULL "
    f"RETURN {OBSERVATION} ORDER BY o.id"
)
HISTORY_IDS = "MATCH (o:MemoryObservation {namespace: $namespace, entity: $name}) RETURN o.id AS id ORDER BY o.id"
MERGE_ENTITY = (
    "MERGE (e:MemoryEntity {key: $key}) ON CREATE SET e += $props, e._fresh = true "
    "WITH e, e._fresh IS NOT NULL AS created REMOVE e._fresh RETURN created"
)
DELETE_ENTITY = (
    "MATCH (e:MemoryEntity {key: $key}) OPTIONAL MATCH (e)-[r:MEMORY_RELATION]-() "
    "WITH e, count(DISTINCT r) AS relations DETACH DELETE e RETURN relations"
)
CREATE_OBSERVATIONS = "UNWIND $rows AS row CREATE (o:MemoryObservation) SET o = row"
DELETE_OBSERVATIONS = "UNWIND $ids AS id MATCH (o:MemoryObservation {id: id}) DELETE o RETURN count(o) AS deleted"
SUPERSEDE = "MATCH (o:MemoryObservation {id: $id}) SET o.superseded_by = $by, o.superseded_at = $at"
UPDATE_ENTITY = (
    "MATCH (e:MemoryEntity {key: $key}) SET e.version = $version, e.updated_at = $at, e.doc = $doc, e.length = $length"
)
SET_TEXT = "MATCH (e:MemoryEntity {key: $key}) SET e.doc = $doc, e.length = $length"
CREATE_RELATION = (
    "MATCH (a:MemoryEntity {key: $source}), (b:MemoryEntity {key: $target}) "
    "MERGE (a)-[r:MEMORY_RELATION {type: $type}]->(b) "
    "ON CREATE SET r.created_at = $at, r.principal = $principal, r._fresh = true "
    "WITH r, r._fresh IS NOT NULL AS created REMOVE r._fresh RETURN created"
)
DELETE_RELATION = (
    "MATCH (:MemoryEntity {key: $source})-[r:MEMORY_RELATION {type: $type}]->(:MemoryEntity {key: $target}) "
    "DELETE r RETURN count(r) AS deleted"
)
STORE_VECTORS = "UNWIND $rows AS row MATCH (o:MemoryObservation {id: row.id}) SET o.vector = row.vector"
EXPIRED_OBSERVATIONS = (
    "MATCH (o:MemoryObservation) WHERE o.expires_at <= $now "
    "RETURN DISTINCT o.namespace AS namespace, o.entity AS entity"
)
EXPIRED_ENTITIES = "MATCH (e:MemoryEntity) WHERE e.expires_at <= $now RETURN e.namespace AS namespace, e.name AS entity"
DELETE_EXPIRED_OBSERVATIONS = (
    "MATCH (o:MemoryObservation {namespace: $namespace, entity: $name}) WHERE o.expires_at <= $now "
    "DELETE o RETURN count(o) AS deleted"
)

# -- reads ---------------------------------------------------------------------------------------

LIST_ENTITIES = (
    f"MATCH (e:MemoryEntity {{namespace: $namespace}}) WHERE e.name > $after AND {LIVE_E} "
    f"RETURN {ENTITY} ORDER BY e.name LIMIT $limit"
)
GET_ENTITIES = f"UNWIND $keys AS key MATCH (e:MemoryEntity {{key: key}}) WHERE {LIVE_E} RETURN {ENTITY}"
OBSERVATIONS_OF = (
    "UNWIND $names AS name MATCH (o:MemoryObservation {namespace: $namespace, entity: name}) "
    f"WHERE o.superseded_by IS NULL AND {LIVE_O} RETURN {OBSERVATION} ORDER BY o.id"
)
HISTORY = (
    f"MATCH (o:MemoryObservation {{namespace: $namespace, entity: $name}}) WHERE {LIVE_O} "
    f"RETURN {OBSERVATION} ORDER BY o.id"
)
RELATIONS_FROM = (
    f"UNWIND $keys AS key MATCH (a:MemoryEntity {{key: key}})-[r:MEMORY_RELATION]->(b:MemoryEntity) RETURN {RELATION}"
)
RELATIONS_TOUCHING = (
    "CALL { UNWIND $keys AS key MATCH (a:MemoryEntity {key: key})-[r:MEMORY_RELATION]->(b:MemoryEntity) "
    "RETURN a, r, b UNION "
    "UNWIND $keys AS key MATCH (a:MemoryEntity)-[r:MEMORY_RELATION]->(b:MemoryEntity {key: key}) RETURN a, r, b } "
    f"RETURN {RELATION}"
)
"""Both directions through the key index (a UNION drops a relation found from both ends twice)."""
RELATIONS_WITHIN = (
    "UNWIND $keys AS key MATCH (a:MemoryEntity {key: key})-[r:MEMORY_RELATION]->(b:MemoryEntity) "
    f"WHERE b.key IN $keys RETURN {RELATION}"
)
FULLTEXT_SEARCH = (
    "CALL db.index.fulltext.queryNodes('memory_entity_text', $query) YIELD node, score "
    "WHERE node.namespace = $namespace AND (node.expires_at IS NULL OR node.expires_at > $now) "
    "RETURN node.name AS name, score ORDER BY score DESC, name LIMIT $limit"
)
ALL_WORDS = (
    f"MATCH (e:MemoryEntity {{namespace: $namespace}}) WHERE {LIVE_E} "
    "AND all(word IN $words WHERE e.doc CONTAINS word) RETURN e.name AS name, e.doc AS doc"
)
ANY_WORD = (
    f"MATCH (e:MemoryEntity {{namespace: $namespace}}) WHERE {LIVE_E} "
    "AND any(word IN $words WHERE e.doc CONTAINS word) RETURN e.name AS name, e.doc AS doc"
)
TEXT_STATS = "MATCH (e:MemoryEntity {namespace: $namespace}) RETURN count(e) AS documents, avg(e.length) AS average"
SUBSTRING = (
    f"MATCH (e:MemoryEntity {{namespace: $namespace}}) WHERE e.doc CONTAINS $needle AND {LIVE_E} "
    "RETURN e.name AS name ORDER BY e.name LIMIT $limit"
)
PENDING = (
    "MATCH (o:MemoryObservation) WHERE o.vector IS NULL AND o.superseded_by IS NULL "
    "RETURN o.id AS id, o.content AS content ORDER BY o.id LIMIT $limit"
)
VECTORS_SINCE = (
    "MATCH (o:MemoryObservation {namespace: $namespace}) WHERE o.id > $after AND o.vector IS NOT NULL "
    "RETURN o.id AS id, o.entity AS entity, o.vector AS vector ORDER BY o.id LIMIT $limit"
)
OBSERVATIONS_BY_ID = (
    "UNWIND $ids AS id MATCH (o:MemoryObservation {id: id}) "
    f"WHERE o.namespace = $namespace AND o.superseded_by IS NULL AND {LIVE_O} RETURN {OBSERVATION}"
)
STATS = (
    f"CALL {{ MATCH (e:MemoryEntity {{namespace: $namespace}}) WHERE {LIVE_E} RETURN count(e) AS entities }} "
    "CALL { MATCH (o:MemoryObservation {namespace: $namespace}) "
    f"WHERE o.superseded_by IS NULL AND {LIVE_O} RETURN count(o) AS observations }} "
    "CALL { MATCH (:MemoryEntity {namespace: $namespace})-[r:MEMORY_RELATION]->() RETURN count(r) AS relations } "
    "RETURN entities, observations, relations"
)
DROP_NAMESPACES = (
    "MATCH (n) WHERE (n:MemoryEntity OR n:MemoryObservation) AND n.namespace IN $namespaces "
    "DETACH DELETE n RETURN count(n) AS deleted"
)
NAMESPACES = "MATCH (e:MemoryEntity) RETURN DISTINCT e.namespace AS namespace ORDER BY namespace"
