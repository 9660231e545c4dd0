"""How any server of the suite runs: stdio or streamable HTTP, /health, registration."""

from servers.runtime.definition import Readiness, ServerDefinition

__all__ = ["Readiness", "ServerDefinition"]
