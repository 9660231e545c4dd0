"""Neo4j: the cypher_* and graph_schema tools, the Cypher checks, one driver per connection."""
