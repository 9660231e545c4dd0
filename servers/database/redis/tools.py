"""The Redis tools: redis_read, redis_scan, redis_info always; redis_write and redis_admin only when allowed.

``register_redis_tools(server, connections)`` gets only the Redis connections, by name.
``redis_write`` is listed only when some Redis connection is ``read_write`` or ``admin`` and
refuses read-only ones; ``redis_admin`` is listed only when some connection is ``admin`` and
refuses all others. Each tool checks its allow-list (:mod:`.commands`), then the server's
own command flags, then runs the command under the statement timeout with a row/byte budget.
Clients are opened lazily and closed by :func:`close_redis_clients` (re-exported here).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from mcp.server import MCPServer
from mcp.types import ToolAnnotations
from pydantic import Field

from servers.database.redis.budgeted_reads import Plan, budgeted_read, finish
from servers.database.redis.client import RedisHandle, close_redis_clients, redis_handle
from servers.database.redis.commands import RedisTool, check_command
from servers.database.redis.errors import RedisToolError
from servers.database.redis.models import RedisCommandResult, RedisInfo, RedisScanPage
from servers.database.redis.scan import KeyType, info_summary, scan_page
from servers.database.settings import DatabaseConnection
from servers.database.url_redaction import public_url, redact, url_secrets

__all__ = ["close_redis_clients", "redis_readiness", "register_redis_tools"]

READ = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
WRITE = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=False)
ADMIN = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=True)

InfoSection = Literal[
    "server", "clients", "memory", "persistence", "stats", "replication", "cpu", "commandstats",
    "latencystats", "cluster", "modules", "keyspace", "errorstats",
]  # fmt: skip

Command = Annotated[str, Field(min_length=1, max_length=64, description="one command name, e.g. GET (any case)")]
Args = Annotated[
    list[str],
    Field(max_length=10_000, description="the command's arguments, each a separate string (keys, values, options)"),
]


ConnectionArg = Annotated[
    str | None,
    Field(max_length=64, description="redis connection name (default: the only redis connection; list_connections)"),
]


def register_redis_tools(server: MCPServer[Any], connections: Mapping[str, DatabaseConnection]) -> None:
    """Add the Redis tools for ``connections`` (the Redis ones only) to ``server``."""
    names = sorted(connections)
    if not names:
        return

    def pick(name: str | None, tool: RedisTool) -> RedisHandle:
        if name is None:
            if len(names) != 1:
                raise RedisToolError("connection_required", f"name a redis connection: one of {', '.join(names)}")
            name = names[0]
        connection = connections.get(name)
        if connection is None:
            raise RedisToolError(
                "unknown_connection", f"no redis connection named {name[:64]!r}; known: {', '.join(names)}"
            )
        needed = {"redis_write": ("read_write", "admin"), "redis_admin": ("admin",)}.get(tool)
        if needed and connection.access not in needed:
            raise RedisToolError(
                "read_only" if connection.access == "read_only" else "not_admin",
                f"connection {name!r} is {connection.access}; {tool} needs a connection with access "
                f"{' or '.join(needed)}",
            )
        return redis_handle(name, connection)

    def result(handle: RedisHandle, name: str, plan: Plan) -> RedisCommandResult:
        shaped = finish(plan, handle.connection.max_rows, handle.connection.max_bytes)
        hint = plan.hint
        if shaped.truncated and hint is None:
            hint = "the reply passed the connection's row/byte budget; ask for less (a range, COUNT, SCAN)"
        return RedisCommandResult(
            connection=handle.name,
            command=name,
            result=shaped.value,
            items=shaped.items,
            truncated=shaped.truncated,
            truncated_reason=shaped.reason,
            hint=hint,
        )

    async def run(tool: RedisTool, connection: str | None, command: str, args: list[str]) -> RedisCommandResult:
        name = check_command(tool, command, args)
        handle = pick(connection, tool)
        await handle.check_flags(tool, name, args)
        if tool == "redis_read":
            plan = await budgeted_read(handle, name, args, handle.connection.max_rows)
        else:
            plan = Plan(await handle.execute(name, name, *args))
        return result(handle, name, plan)

    @server.tool(annotations=READ)
    async def redis_read(command: Command, args: Args, connection: ConnectionArg = None) -> RedisCommandResult:
        """Run one read-only Redis command (GET, MGET, HGETALL, LRANGE, ZRANGE, XRANGE, TTL, TYPE, JSON.GET...).

        Anything off the read allow-list is refused with the list. Replies are cut to the
        connection's row/byte budget (truncated=true with a hint); whole-collection reads such as
        HGETALL or LRANGE 0 -1 fetch only the budget. Use redis_scan to find keys.
        """
        return await run("redis_read", connection, command, args)

    @server.tool(annotations=READ)
    async def redis_scan(
        connection: ConnectionArg = None,
        cursor: Annotated[
            str, Field(max_length=32, description="'0' to start, else next_cursor of the last page")
        ] = "0",
        match: Annotated[
            str | None, Field(max_length=512, description="glob on key names, e.g. 'user:*' (SCAN MATCH)")
        ] = None,
        type: Annotated[KeyType | None, Field(description="only keys of this type (SCAN TYPE)")] = None,
        count: Annotated[int, Field(ge=1, le=10_000, description="keys Redis examines per round trip")] = 100,
        max_keys: Annotated[int | None, Field(ge=1, le=100_000, description="keys in this page (capped)")] = None,
    ) -> RedisScanPage:
        """List keys a page at a time with SCAN (never KEYS): pattern, type filter, and a cursor to continue.

        next_cursor is null once the whole keyspace has been walked. A page may hold a few keys
        more than max_keys rather than skip any; an empty page with a cursor means keep going.
        """
        handle = pick(connection, "redis_read")
        limit = min(max_keys or handle.connection.max_rows, handle.connection.max_rows)
        return await scan_page(handle, cursor=cursor, match=match, key_type=type, count=count, max_keys=limit)

    @server.tool(annotations=READ)
    async def redis_info(
        connection: ConnectionArg = None,
        sections: Annotated[
            list[InfoSection], Field(max_length=13, description="INFO sections to include in full (default none)")
        ] = [],  # noqa: B006 - pydantic copies defaults
    ) -> RedisInfo:
        """A compact summary of a Redis server (version, role, memory, clients, keys per database), plus any INFO sections."""
        handle = pick(connection, "redis_read")
        return await info_summary(handle, handle.shown(), list(dict.fromkeys(sections)))

    if any(c.access in ("read_write", "admin") for c in connections.values()):

        @server.tool(annotations=WRITE)
        async def redis_write(command: Command, args: Args, connection: ConnectionArg = None) -> RedisCommandResult:
            """Run one Redis write command (SET with EX/PX/NX/XX, DEL, EXPIRE, HSET, LPUSH, SADD, ZADD, INCR, XADD...).

            Only on read_write or admin connections. Writes stay inside the connection's database:
            FLUSHDB, MOVE, SWAPDB, COPY ... DB and scripts are admin commands, not writes.
            """
            return await run("redis_write", connection, command, args)

    if any(c.access == "admin" for c in connections.values()):

        @server.tool(annotations=ADMIN)
        async def redis_admin(command: Command, args: Args, connection: ConnectionArg = None) -> RedisCommandResult:
            """Run one Redis admin command (FLUSHDB, FLUSHALL, CONFIG GET/SET, EVAL, SCRIPT, CLIENT KILL, SAVE...).

            Only on connections the operator marked admin. These can destroy data or change the
            whole server: say what you are about to do before calling.
            """
            return await run("redis_admin", connection, command, args)


async def redis_readiness(name: str, connection: DatabaseConnection) -> tuple[bool, str]:
    """(ready, detail) for one Redis connection: a PING under the statement timeout, secrets never shown."""
    url = connection.url.get_secret_value()
    try:
        handle = redis_handle(name, connection)
        reply = await handle.execute("PING", "PING", traced=False)  # no span per health probe
    except RedisToolError as exc:
        return False, redact(exc.detail, url_secrets(url))
    if reply not in (b"PONG", "PONG", True):
        return False, f"redis {public_url(url)} answered PING with {reply!r}"
    return True, f"redis {public_url(url)} answers PING"
