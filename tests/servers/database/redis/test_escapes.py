"""Admin, unknown and smuggled commands are refused on read_only and read_write connections, data unchanged.

Each attempt runs against the real Redis; afterwards every key of the test's prefix is compared
with a snapshot taken before (DUMP and TTL), and the server's maxmemory-policy is checked too.
"""

from __future__ import annotations

from typing import Any

import pytest

from servers.database.redis.commands import ADMIN_COMMANDS, NEVER, READ_COMMANDS, WRITE_COMMANDS, check_command
from servers.database.redis.errors import RedisToolError
from tests.servers.database.redis.support import Seeded, connection, seeded, server_for
from tests.servers.database.tool_calls import call, refused

__all__ = ["seeded"]
pytestmark = pytest.mark.anyio

K = "{key}"  # replaced by a real key of the test's prefix

# (command, args, expected error code)
CORPUS: list[tuple[str, list[str], str]] = [
    ("FLUSHALL", [], "command_not_allowed"),
    ("FLUSHDB", ["ASYNC"], "command_not_allowed"),
    ("fLuShAlL", [], "command_not_allowed"),
    ("flushdb", [], "command_not_allowed"),
    ("CONFIG", ["SET", "maxmemory-policy", "allkeys-random"], "command_not_allowed"),
    ("EVAL", ["return redis.call('DEL', KEYS[1])", "1", K], "command_not_allowed"),
    ("EVAL_RO", ["return redis.call('GET', KEYS[1])", "1", K], "command_not_allowed"),
    ("FCALL", ["f", "1", K], "command_not_allowed"),
    ("SCRIPT", ["FLUSH"], "command_not_allowed"),
    ("FUNCTION", ["FLUSH"], "command_not_allowed"),
    ("DEBUG", ["SLEEP", "0"], "command_not_allowed"),
    ("SHUTDOWN", ["NOSAVE"], "command_not_allowed"),
    ("MULTI", [], "command_not_allowed"),
    ("EXEC", [], "command_not_allowed"),
    ("WATCH", [K], "command_not_allowed"),
    ("SELECT", ["0"], "command_not_allowed"),
    ("SET x y\r\nFLUSHALL", [], "invalid_command"),
    ("GET\r\nFLUSHALL", [], "invalid_command"),
    ("FLUSHALL\x00", [], "invalid_command"),
    (" FLUSHALL", [], "invalid_command"),
    ("DEL " + K, [], "invalid_command"),
    ("MOVE", [K, "0"], "command_not_allowed"),
    ("SWAPDB", ["15", "0"], "command_not_allowed"),
    ("MIGRATE", ["127.0.0.1", "6379", K, "0", "1000"], "command_not_allowed"),
    ("RESTORE", [K + "x", "0", "payload"], "command_not_allowed"),
    ("CLIENT", ["KILL", "TYPE", "normal"], "command_not_allowed"),
    ("REPLICAOF", ["127.0.0.1", "1"], "command_not_allowed"),
    ("SLAVEOF", ["NO", "ONE"], "command_not_allowed"),
    ("MODULE", ["LOAD", "/tmp/evil.so"], "command_not_allowed"),
    ("ACL", ["SETUSER", "evil", "on", ">pw", "+@all"], "command_not_allowed"),
    ("KEYS", ["*"], "command_not_allowed"),
    ("SUBSCRIBE", ["chan"], "command_not_allowed"),
    ("MONITOR", [], "command_not_allowed"),
    ("BLPOP", [K, "0"], "command_not_allowed"),
    ("PUBLISH", ["chan", "msg"], "command_not_allowed"),
    ("SAVE", [], "command_not_allowed"),
    ("BGREWRITEAOF", [], "command_not_allowed"),
    ("COMMAND", ["GETKEYS", "FLUSHALL"], "command_not_allowed"),
    ("NOSUCHCOMMAND", [], "command_not_allowed"),
]

# Writes that redis_read must refuse on any connection (they are refused before reaching Redis).
READ_ONLY_CORPUS: list[tuple[str, list[str], str]] = [
    ("RENAME", [K, K + "2"], "command_not_allowed"),
    ("DEL", [K], "command_not_allowed"),
    ("SET", [K, "changed"], "command_not_allowed"),
    ("set", [K, "changed"], "command_not_allowed"),
    ("EXPIRE", [K, "1"], "command_not_allowed"),
    ("SORT", [K + "l", "STORE", K], "command_not_allowed"),
    ("GEORADIUS", [K + "g", "0", "0", "10", "km", "STORE", K], "command_not_allowed"),
    ("BITFIELD", [K, "SET", "u8", "0", "255"], "command_not_allowed"),
    ("GETDEL", [K], "command_not_allowed"),
    ("GETEX", [K, "PERSIST"], "command_not_allowed"),
    ("MEMORY", ["PURGE"], "command_not_allowed"),
    ("OBJECT", ["HELP"], "command_not_allowed"),
    ("XGROUP", ["CREATE", K + "s", "g", "$", "MKSTREAM"], "command_not_allowed"),
    ("JSON.SET", [K, "$", "1"], "command_not_allowed"),
]


def _fill(args: list[str], seeded: Seeded) -> list[str]:
    return [arg.replace(K, seeded.key("target")) for arg in args]


async def _prepare(seeded: Seeded) -> tuple[dict[str, Any], Any]:
    await seeded.raw.set(seeded.key("target"), "original")
    await seeded.raw.rpush(seeded.key("targetl"), "3", "1", "2")
    await seeded.raw.hset(seeded.key("hash"), mapping={"a": "1"})
    policy = (await seeded.raw.config_get("maxmemory-policy"))["maxmemory-policy"]
    return await seeded.snapshot(), policy


@pytest.mark.parametrize("access", ["read_only", "read_write"])
@pytest.mark.parametrize(("command", "args", "code"), CORPUS, ids=[repr(c[0]) for c in CORPUS])
async def test_admin_and_unknown_commands_are_refused_and_change_nothing(
    seeded: Seeded, access: str, command: str, args: list[str], code: str
) -> None:
    before, policy = await _prepare(seeded)
    server = server_for(c=connection(access))
    tools = ["redis_read", "redis_write"] if access == "read_write" else ["redis_read"]
    for tool in tools:
        command_text = command.replace(K, seeded.key("target"))
        result = await call(server, tool, {"command": command_text, "args": _fill(args, seeded)})
        refused(result, code)
    assert await seeded.snapshot() == before
    assert (await seeded.raw.config_get("maxmemory-policy"))["maxmemory-policy"] == policy


@pytest.mark.parametrize(("command", "args", "code"), READ_ONLY_CORPUS, ids=[c[0] for c in READ_ONLY_CORPUS])
async def test_redis_read_refuses_every_write_and_changes_nothing(
    seeded: Seeded, command: str, args: list[str], code: str
) -> None:
    before, _ = await _prepare(seeded)
    server = server_for(c=connection("read_only"))
    refused(await call(server, "redis_read", {"command": command, "args": _fill(args, seeded)}), code)
    assert await seeded.snapshot() == before


async def test_redis_admin_is_not_listed_and_cannot_be_called_without_an_admin_connection(seeded: Seeded) -> None:
    before, _ = await _prepare(seeded)
    server = server_for(c=connection("read_write"))
    result = await call(server, "redis_admin", {"command": "FLUSHALL", "args": []})
    assert result.is_error
    assert await seeded.snapshot() == before


async def test_copy_into_another_database_is_refused_on_a_read_write_connection(seeded: Seeded) -> None:
    before, _ = await _prepare(seeded)
    server = server_for(c=connection("read_write"))
    args = [seeded.key("target"), seeded.key("copy"), "db", "0"]
    refused(await call(server, "redis_write", {"command": "COPY", "args": args}), "option_not_allowed")
    assert await seeded.snapshot() == before


async def test_a_refusal_lists_what_the_tool_allows() -> None:
    message = refused(
        await call(server_for(c=connection()), "redis_read", {"command": "FLUSHALL", "args": []}), "command_not_allowed"
    )
    assert "admin command" in message and "HGETALL" in message and "ZRANGE" in message


def test_the_allow_lists_do_not_overlap_and_never_include_a_forbidden_command() -> None:
    assert not READ_COMMANDS & WRITE_COMMANDS
    assert not READ_COMMANDS & ADMIN_COMMANDS
    assert not WRITE_COMMANDS & ADMIN_COMMANDS
    assert not set(NEVER) & (READ_COMMANDS | WRITE_COMMANDS | ADMIN_COMMANDS)


def test_every_read_command_is_flagged_read_only_by_redis_itself() -> None:
    """The server's own COMMAND INFO agrees with the read list (module commands aside)."""
    import redis

    raw = redis.Redis.from_url("redis://127.0.0.1:6379/15")
    try:
        names = sorted(name for name in READ_COMMANDS if "." not in name)
        infos = raw.execute_command(  # type: ignore[no-untyped-call]
            "COMMAND", "INFO", *[n.lower() for n in names]
        )
    finally:
        raw.close()
    assert infos  # parsed by redis-py into {name: info}
    wrong = [
        name
        for name, info in infos.items()
        if {"write", "admin", "blocking"}
        & {flag.decode() if isinstance(flag, bytes) else flag for flag in info["flags"]}
    ]
    assert wrong == []


def test_check_command_upper_cases_and_checks_subcommands() -> None:
    assert check_command("redis_read", "object", ["encoding", "k"]) == "OBJECT"
    with pytest.raises(RedisToolError) as caught:
        check_command("redis_read", "OBJECT", [])
    assert caught.value.code == "command_not_allowed"
