"""The memory server: a knowledge graph of entities, relations and observations that many agents share safely.

A drop-in for the official memory server's tools, on stores that take concurrent writers (SQLite,
PostgreSQL, Redis, Neo4j), with namespaces, provenance, supersession, TTL, budgeted recall and export/import.
"""
