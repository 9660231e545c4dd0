"""The suite's settings: the common keys plus the gateway's section and every server's.

Each owner keeps its section's model in its own package (``gateway/settings.py``,
``servers/<name>/settings.py``); this is the one place that lists them, so that ``mcp-suite``
refuses an unknown or invalid key in any section, whichever process it starts.
"""

from __future__ import annotations

import os
from typing import Any

from pydantic import BaseModel

from gateway.settings import SECTION as GATEWAY_SECTION
from gateway.settings import SERVER_NAMES, GatewaySettings, gateway_settings
from mesh.config import Settings, load_settings, settings_model
from servers.aiml.settings import SECTION as AIML_SECTION
from servers.aiml.settings import AimlSettings
from servers.database.settings import SECTION as DATABASE_SECTION
from servers.database.settings import DatabaseSettings
from servers.filesystem.settings import SECTION as FILESYSTEM_SECTION
from servers.filesystem.settings import FilesystemSettings
from servers.memory.settings import SECTION as MEMORY_SECTION
from servers.memory.settings import MemorySettings
from servers.search.settings import SECTION as SEARCH_SECTION
from servers.search.settings import SearchSettings
from servers.vectorstore.settings import SECTION as VECTORSTORE_SECTION
from servers.vectorstore.settings import VectorstoreSettings

SECTIONS: dict[str, type[BaseModel]] = {
    GATEWAY_SECTION: GatewaySettings,
    FILESYSTEM_SECTION: FilesystemSettings,
    DATABASE_SECTION: DatabaseSettings,
    VECTORSTORE_SECTION: VectorstoreSettings,
    AIML_SECTION: AimlSettings,
    MEMORY_SECTION: MemorySettings,
    SEARCH_SECTION: SearchSettings,
}
SuiteSettings = settings_model(SECTIONS)


def load_suite_settings(config: str | os.PathLike[str] | None = None, **overrides: Any) -> Settings:
    """:func:`mesh.config.load_settings` with every section of the suite.

    Raises:
        ConfigError: the file cannot be read, or a key of any section is unknown or not allowed.
    """
    return load_settings(config, sections=SECTIONS, **overrides)


def supervisor_meta(settings: Settings, server: str) -> str:
    """The supervisor groups that list ``server``, as registered in Consul's service meta (``none`` if none)."""
    groups = gateway_settings(settings).supervisors
    return ",".join(sorted(name for name, group in groups.items() if server in group.servers)) or "none"


def watched_servers(settings: Settings) -> list[str]:
    """The servers the gateway follows in a remote catalog: the suite's and any the gateway's config names."""
    return sorted(set(SERVER_NAMES) | set(gateway_settings(settings).servers))
