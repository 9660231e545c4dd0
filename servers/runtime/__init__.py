"""How any server of the suite runs: stdio or streamable HTTP, /health, registration."""

from servers.runtime.definition import Readiness, ServerDefinition
from servers.runtime.known import SERVER_MODULES, load_definition

__all__ = ["SERVER_MODULES", "Readiness", "ServerDefinition", "load_definition"]
