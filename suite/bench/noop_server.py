"""A server with one tool that does nothing, served over streamable HTTP as ``mcp-suite serve`` serves: the transport floor.

``python -m suite.bench.noop_server PORT`` runs it (the runtime's HTTP stack, fast path on, the same
settings as a bench's server). Its ``noop`` tool returns a small structured result, so a call's round
trip is everything the server and the lean client add around a tool: HTTP, JSON-RPC, argument
validation, the result's shaping and encoding, the client's decode. :func:`noop_server` starts it as a
child process.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mcp.server import MCPServer
from mcp.types import ToolAnnotations
from pydantic import BaseModel

from mesh import runtime
from mesh.config import Settings
from mesh.telemetry import configure_logging
from servers.runtime.definition import ServerDefinition
from servers.runtime.serve import serve_http
from suite.bench.processes import free_port, ready_child
from suite.settings import load_suite_settings

READ = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)


class Nothing(BaseModel):
    ok: bool = True


def build(_settings: Settings) -> MCPServer[Any]:
    server: MCPServer[Any] = MCPServer("noop", version="0")

    @server.tool(annotations=READ)
    async def noop() -> Nothing:
        """Do nothing."""
        return Nothing()

    return server


DEFINITION = ServerDefinition(name="noop", build=build)


@contextmanager
def noop_server(tmp: Path) -> Iterator[tuple[str, int]]:
    """The no-op server as a child process; yields (MCP URL, pid)."""
    port = free_port()
    argv = [sys.executable, "-m", "suite.bench.noop_server", str(port)]
    with ready_child(argv, port, tmp / "noop-data", tmp / "noop-server.log", "the no-op server", 60.0) as pid:
        yield f"http://127.0.0.1:{port}/mcp", pid


def main(port: int) -> None:
    with tempfile.TemporaryDirectory(prefix="mcp-suite-noop-") as data:
        settings = load_suite_settings(None, data_dir=Path(data))
        configure_logging(settings.log_level, service="noop")

        async def serve() -> None:
            await serve_http(DEFINITION, settings, host="127.0.0.1", port=port)

        runtime.run(settings.event_loop, serve)


if __name__ == "__main__":
    main(int(sys.argv[1]))
