"""The ``mcp-suite`` command line.

``serve`` runs one server; the gateway commands (``gateway``, ``up``, ``status``,
``client-config``) and ``bench`` live beside it. Every failure the user can fix is printed as
one clear message with exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any

import anyio

from mesh.config import ConfigError, Settings, load_settings
from mesh.telemetry import configure_logging

log = logging.getLogger("mcp_suite.cli")

Command = Callable[[argparse.Namespace], int]


def _fail(message: str) -> int:
    print(f"mcp-suite: {message}", file=sys.stderr)
    return 2


def _settings(args: argparse.Namespace, **overrides: Any) -> Settings:
    return load_settings(getattr(args, "config", None), **overrides)


def cmd_serve(args: argparse.Namespace) -> int:
    from servers.runtime import load_definition
    from servers.runtime.serve import serve_http, serve_stdio

    try:
        definition = load_definition(args.server)
    except KeyError as exc:
        return _fail(str(exc.args[0]))
    settings = _settings(args)
    try:
        settings = definition.apply_arguments(settings, args.arguments)
    except ValueError as exc:
        return _fail(str(exc))
    configure_logging(settings.log_level, service=definition.name)
    if args.transport == "stdio":
        anyio.run(serve_stdio, definition.build(settings))
        return 0
    host = args.host or "127.0.0.1"
    port = args.port if args.port is not None else definition.port_of(settings)

    async def run() -> None:
        await serve_http(definition, settings, host=host, port=port)

    anyio.run(run)
    return 0


def cmd_gateway(args: argparse.Namespace) -> int:
    from gateway.serve import run_gateway
    from mesh.registry import StaticRegistry

    settings = _settings(args)
    configure_logging(settings.log_level, service="gateway")
    registry = StaticRegistry(settings.registry.static)
    if not registry.servers():
        log.warning("the registry names no upstream server; set registry.static in the config file")
    host = args.host or settings.gateway.host
    port = args.port if args.port is not None else settings.gateway.port
    run_gateway(settings, registry, transport=args.transport, host=host, port=port)
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from gateway.bench import run_bench

    return int(run_bench(args))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mcp-suite", description="Six MCP servers behind one gateway.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="run one server over stdio or streamable HTTP")
    serve.add_argument("server", help="filesystem | database | vectorstore | memory | search | aiml")
    serve.add_argument("arguments", nargs="*", help="server-specific words, e.g. allowed directories DIR[:ro|:rw]")
    serve.add_argument("--transport", choices=("stdio", "http"), default="stdio")
    serve.add_argument("--host", default=None, help="HTTP bind address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="HTTP port (default: the server's port, 0 = any)")
    serve.add_argument("--config", default=None, help="YAML config file (default $MCP_SUITE_CONFIG, ./mcp-suite.yaml)")
    serve.set_defaults(handler=cmd_serve)

    gateway = sub.add_parser("gateway", help="run the gateway over the servers the config's registry names")
    gateway.add_argument("--transport", choices=("stdio", "http"), default="http")
    gateway.add_argument("--host", default=None, help="HTTP bind address (default gateway.host, 127.0.0.1)")
    gateway.add_argument("--port", type=int, default=None, help="HTTP port (default gateway.port, 8500)")
    gateway.add_argument("--config", default=None, help="YAML config file with registry.static")
    gateway.set_defaults(handler=cmd_gateway)

    bench = sub.add_parser("bench", help="time calls over the real transports and print the figures")
    bench.add_argument("--iterations", type=int, default=300, help="calls per measurement")
    bench.add_argument("--only", choices=("filesystem", "gateway"), default=None)
    bench.set_defaults(handler=cmd_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Command = args.handler
    try:
        return handler(args)
    except ConfigError as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
