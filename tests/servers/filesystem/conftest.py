"""Fixtures for the filesystem tests (the helpers live in support.py)."""

from tests.servers.filesystem.support import make_settings, mode, outside, root

__all__ = ["make_settings", "mode", "outside", "root"]
