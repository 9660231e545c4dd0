"""The database server: named PostgreSQL, SQLite, Redis and Neo4j connections behind one safe tool surface."""
