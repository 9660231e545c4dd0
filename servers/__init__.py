"""The second floor: one package per domain server. Imports mesh/ only; never another server."""
