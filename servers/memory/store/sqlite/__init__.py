"""The embedded SQLite store: one file, WAL, FTS5; several processes on one host may share it."""
