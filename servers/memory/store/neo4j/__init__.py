"""The Neo4j graph store: entities as nodes, relations as relationships, observations as nodes of their own."""
