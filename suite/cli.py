"""The ``mcp-suite`` command line.

``serve`` runs one server; the gateway commands (``gateway``, ``up``, ``status``,
``client-config``) and ``bench`` live beside it. Every failure the user can fix is printed as
one clear message with exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from gateway.settings import gateway_settings
from mesh import runtime
from mesh.config import ConfigError, Settings, find_config_file
from mesh.registry import StaticRegistry
from mesh.telemetry import configure_logging
from suite.bench import BENCHES
from suite.process_title import set_process_title
from suite.settings import load_suite_settings, supervisor_meta, watched_servers

log = logging.getLogger("mcp_suite.cli")

Command = Callable[[argparse.Namespace], int]


def _fail(message: str) -> int:
    print(f"mcp-suite: {message}", file=sys.stderr)
    return 2


def _settings(args: argparse.Namespace, **overrides: Any) -> Settings:
    return load_suite_settings(getattr(args, "config", None), **overrides)


def cmd_serve(args: argparse.Namespace) -> int:
    set_process_title(args.server)  # first: importing a server takes a while, and ps should say what it is
    from mesh.discovery import registry_from_settings, uses_consul
    from servers.runtime.serve import serve_http, serve_stdio
    from suite.known import load_definition

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
        runtime.run(settings.event_loop, serve_stdio, definition, settings)
        return 0
    host = args.host or "127.0.0.1"
    port = args.port if args.port is not None else definition.port_of(settings)
    from mesh.security.bind import refuse_unprotected_bind

    refusal = refuse_unprotected_bind(
        f"{definition.name} server",
        host,
        protected=settings.auth.server_protected,
        insecure=args.insecure,
        how="auth.upstream_secret (MCP_SUITE_AUTH__UPSTREAM_SECRET, the same on the gateway) or mutual TLS (auth.tls)",
    )
    if refusal:
        return _fail(refusal)

    registry = None
    if uses_consul(settings):  # register with Consul; a static registry has no one to tell
        registry = registry_from_settings(settings)

    async def run() -> None:
        meta = {"supervisor": supervisor_meta(settings, definition.name)}
        await serve_http(definition, settings, host=host, port=port, registry=registry, meta=meta)

    runtime.run(settings.event_loop, run)
    return 0


def cmd_gateway(args: argparse.Namespace) -> int:
    set_process_title("gateway")
    from gateway.door.transports import run_gateway
    from mesh.discovery import registry_from_settings, uses_consul

    settings = _settings(args)
    configure_logging(settings.log_level, service="gateway")
    registry = registry_from_settings(settings, servers=watched_servers(settings))
    if not uses_consul(settings) and not registry.servers():
        if args.transport == "http":
            log.warning("the registry names no upstream server; set registry.static in the config file")
        else:
            registry = _suite_over_stdio(args)
            log.info("no registry in the config: serving %s as stdio children", ", ".join(registry.servers()))
    host = args.host or gateway_settings(settings).host
    port = args.port if args.port is not None else gateway_settings(settings).port
    if args.transport == "http":
        from mesh.security.bind import refuse_unprotected_bind

        refusal = refuse_unprotected_bind(
            "gateway", host, protected=settings.auth.configured, insecure=args.insecure, how="auth.jwt or auth.api_keys"
        )
        if refusal:
            return _fail(refusal)
    run_gateway(settings, registry, transport=args.transport, host=host, port=port)
    return 0


def _suite_over_stdio(args: argparse.Namespace) -> StaticRegistry:
    """The registry ``client-config`` writes for the stdio gateway: every server of the suite, as its stdio child."""
    from mesh.config import StaticInstance
    from suite.client_config import suite_stdio_registry
    from suite.known import SERVER_MODULES

    static = suite_stdio_registry(list(SERVER_MODULES), _config_file(args))
    return StaticRegistry({name: tuple(StaticInstance(**item) for item in items) for name, items in static.items()})


def _config_file(args: argparse.Namespace) -> Path | None:
    found = find_config_file(getattr(args, "config", None))
    return found.absolute() if found else None


def cmd_up(args: argparse.Namespace) -> int:
    set_process_title("up")
    from suite.known import SERVER_MODULES
    from suite.launcher import PlanError, parse_replicas, run_up

    settings = _settings(args)
    if settings.auth.tls is not None or settings.auth.gateway_tls is not None:
        return _fail(
            "`mcp-suite up` runs every process on loopback for development and does not set up TLS; "
            "drop auth.tls and auth.gateway_tls from its config, or run `mcp-suite serve` and `mcp-suite gateway` "
            "yourself (docs/security.md, mutual TLS)"
        )
    known = list(SERVER_MODULES)
    table = sys.stdout.isatty() and not args.plain and os.environ.get("TERM") != "dumb"
    try:
        replicas = parse_replicas(args.replicas, known)
        return run_up(settings, known, config_file=_config_file(args), replicas=replicas, table=table)
    except PlanError as exc:
        return _fail(str(exc))


def _default_gateway_url(settings: Settings) -> str:
    from suite.client_config import gateway_http_url

    return gateway_http_url(settings).removesuffix("/mcp")


def cmd_status(args: argparse.Namespace) -> int:
    from suite.launcher.plan import run_dir_of, state_file_of
    from suite.launcher.process_supervisor import launcher_snapshot
    from suite.launcher.status_report import GatewayUnreachable, fetch_instances, render_instances, render_launcher

    settings = _settings(args)
    url = (args.url or _default_gateway_url(settings)).rstrip("/").removesuffix("/mcp")
    try:
        body = fetch_instances(url)
    except GatewayUnreachable as exc:
        return _fail(f"{exc}; is `mcp-suite up` running?")
    if args.json:
        print(json.dumps(body, indent=2))
        return 0
    lines = render_instances(body, url)
    state = launcher_snapshot(state_file_of(run_dir_of(settings)))
    if state is not None:
        lines += render_launcher(state)
    print("\n".join(lines))
    return 0


def cmd_client_config(args: argparse.Namespace) -> int:
    from suite.client_config import ClientConfigError, GatewayMode, build_entries, render
    from suite.known import SERVER_MODULES

    settings = _settings(args)
    mode: GatewayMode = "http" if args.gateway == "http" else "stdio"
    if args.client == "claude-desktop" and args.json:
        return _fail("--json is for claude-code (a project .mcp.json); claude-desktop output is JSON already")
    try:
        entries = build_entries(
            settings, list(SERVER_MODULES), config_file=_config_file(args), gateway=mode, only=args.server
        )
        text = render(args.client, entries, as_json=args.json)
    except ClientConfigError as exc:
        return _fail(str(exc))
    print(text)
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    from mesh.security.tokens import mint_token

    settings = _settings(args)
    jwt = settings.auth.jwt
    if jwt.secret is None:
        return _fail(
            "no auth.jwt.secret is configured, so no development token can be minted; set one "
            "(e.g. MCP_SUITE_AUTH__JWT__SECRET=$(openssl rand -hex 32)) in the gateway's config"
        )
    if args.ttl < 1 or args.ttl > 30 * 86_400:
        return _fail("--ttl must be between 1 second and 30 days")
    token = mint_token(
        jwt.secret.get_secret_value(),
        subject=args.subject,
        roles=args.role,
        ttl_seconds=args.ttl,
        audience=jwt.audience,
        issuer=jwt.issuer,
        roles_claim=jwt.roles_claim,
    )
    unknown = [role for role in args.role if role not in settings.roles]
    if unknown:
        print(
            f"mcp-suite: warning: no role named {', '.join(unknown)} in the config; it grants nothing", file=sys.stderr
        )
    print(token)
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from suite.bench import run_bench

    args.only = args.only or args.name
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
    serve.add_argument(
        "--insecure", action="store_true", help="allow a non-loopback --host without auth.upstream_secret"
    )
    serve.set_defaults(handler=cmd_serve)

    gateway = sub.add_parser("gateway", help="run the gateway over the servers the config's registry names")
    gateway.add_argument("--transport", choices=("stdio", "http"), default="http")
    gateway.add_argument("--host", default=None, help="HTTP bind address (default gateway.host, 127.0.0.1)")
    gateway.add_argument("--port", type=int, default=None, help="HTTP port (default gateway.port, 8500)")
    gateway.add_argument("--config", default=None, help="YAML config file with registry.static")
    gateway.add_argument("--insecure", action="store_true", help="allow a non-loopback --host without auth configured")
    gateway.set_defaults(handler=cmd_gateway)

    up = sub.add_parser(
        "up", help="run every server and the gateway, restart any that crash, stop them all on Ctrl-C/SIGTERM"
    )
    up.add_argument("--config", default=None, help="YAML config file every process reads (default as for serve)")
    up.add_argument(
        "--replicas",
        action="extend",
        nargs="+",
        default=[],
        metavar="SERVER=N",
        help="run N instances of SERVER (extra ones on free ports), e.g. --replicas filesystem=2",
    )
    up.add_argument("--plain", action="store_true", help="JSON log lines on stderr even on a terminal")
    up.set_defaults(handler=cmd_up)

    status = sub.add_parser("status", help="the running gateway's servers and instances")
    status.add_argument("--url", default=None, help="gateway base URL (default from the config: http://127.0.0.1:8500)")
    status.add_argument("--config", default=None, help="YAML config file (for the default URL)")
    status.add_argument("--json", action="store_true", help="print the gateway's /v1/instances JSON as is")
    status.set_defaults(handler=cmd_status)

    client = sub.add_parser("client-config", help="print the Claude Desktop / Claude Code configuration")
    client.add_argument("client", choices=("claude-desktop", "claude-code"))
    client.add_argument("--config", default=None, help="YAML config file the printed commands should read")
    client.add_argument("--server", default=None, help="only this entry: a server name, or 'gateway'")
    client.add_argument(
        "--gateway",
        choices=("stdio", "http"),
        default=None,
        help="the gateway entry: stdio (default; starts its own servers) or http (a running `mcp-suite up`)",
    )
    client.add_argument("--json", action="store_true", help="claude-code: a project .mcp.json instead of commands")
    client.set_defaults(handler=cmd_client_config)

    token = sub.add_parser("token", help="mint a development HS256 token with the configured auth.jwt.secret")
    token.add_argument("--subject", required=True, help="the token's 'sub': who the caller is")
    token.add_argument("--role", action="append", default=[], help="a role to grant (repeat for several)")
    token.add_argument("--ttl", type=int, default=3600, help="seconds until it expires (default 3600)")
    token.add_argument("--config", default=None, help="YAML config file holding auth.jwt")
    token.set_defaults(handler=cmd_token)

    bench = sub.add_parser("bench", help="time calls over the real transports and print the figures")
    bench.add_argument("--iterations", type=int, default=300, help="calls per measurement")
    bench.add_argument("name", nargs="?", choices=tuple(BENCHES), default=None, help="run one bench (same as --only)")
    bench.add_argument("--only", choices=tuple(BENCHES), default=None, help="run one bench (default: all)")
    bench.add_argument("--minutes", type=float, default=None, help="idle-soak: how long to watch (default 60)")
    bench.add_argument("--seconds", type=float, default=None, help="idle-soak: how long to watch, in seconds")
    bench.add_argument("--quick", action="store_true", help="smoke-test sizes, where a bench has them (vectorstore)")
    bench.set_defaults(handler=cmd_bench)
    return parser


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The parsed command line; ``serve`` takes its options anywhere after the server name.

    argparse fills ``serve``'s words only up to the first option (``serve filesystem --port 8501 ~/a``
    would leave ``~/a`` over), and its intermixed parsing does not work under subcommands: the words
    left over are appended in order, and anything else left over is refused as argparse would.
    """
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if args.command == "serve":
        unknown = [word for word in extra if word.startswith("-")]
        args.arguments = [*args.arguments, *(word for word in extra if not word.startswith("-"))]
        extra = unknown
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_arguments(argv)
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
