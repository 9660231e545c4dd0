"""The servers of the suite by name, imported only when asked for (a server never imports another).

The command line and the launcher start servers through this map; nothing under mesh/, servers/ or
gateway/ does.
"""

from __future__ import annotations

import importlib

from servers.runtime.definition import ServerDefinition

SERVER_MODULES: dict[str, str] = {
    "filesystem": "servers.filesystem.server",
    "database": "servers.database.server",
    "vectorstore": "servers.vectorstore.server",
    "memory": "servers.memory.server",
    "search": "servers.search.server",
    "aiml": "servers.aiml.server",
}


def load_definition(name: str) -> ServerDefinition:
    """The :class:`ServerDefinition` of server ``name``; ``KeyError`` with the known names if there is none."""
    try:
        module_name = SERVER_MODULES[name]
    except KeyError:
        known = ", ".join(sorted(SERVER_MODULES))
        raise KeyError(f"unknown server {name!r}; the servers available are: {known}") from None
    definition = importlib.import_module(module_name).DEFINITION
    if not isinstance(definition, ServerDefinition):
        raise TypeError(f"{module_name}.DEFINITION is not a ServerDefinition")
    return definition
