"""Which Redis commands each tool may run: three allow-lists and the commands no tool ever runs.

A command is one word (``GET``, ``JSON.GET``), matched case-insensitively; its arguments travel
as separate RESP bulk strings, so an argument can never smuggle a second command. Anything
off the tool's list is refused with the list. Container commands (``OBJECT``, ``CONFIG``...) are
allowed per subcommand. :func:`check_command` is the whole decision; the live server's own
``COMMAND INFO`` flags are a second layer checked in :mod:`.client`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Literal

from servers.database.redis.errors import RedisToolError

RedisTool = Literal["redis_read", "redis_write", "redis_admin"]

COMMAND_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.]{0,39}$")
MAX_ARGS = 10_000


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Reads: never change data, never block, never touch another database.
READ_COMMANDS: frozenset[str] = _words(
    """
    GET MGET GETRANGE STRLEN LCS
    HGET HMGET HGETALL HKEYS HVALS HLEN HEXISTS HSTRLEN HRANDFIELD HSCAN
    LRANGE LINDEX LLEN LPOS
    SMEMBERS SISMEMBER SMISMEMBER SCARD SRANDMEMBER SSCAN SINTER SUNION SDIFF SINTERCARD
    ZRANGE ZREVRANGE ZRANGEBYSCORE ZREVRANGEBYSCORE ZRANGEBYLEX ZREVRANGEBYLEX ZSCORE ZMSCORE
    ZRANK ZREVRANK ZCARD ZCOUNT ZLEXCOUNT ZRANDMEMBER ZSCAN ZINTER ZUNION ZDIFF ZINTERCARD
    XRANGE XREVRANGE XLEN XINFO XPENDING
    TTL PTTL EXPIRETIME PEXPIRETIME TYPE EXISTS OBJECT MEMORY DBSIZE RANDOMKEY
    GETBIT BITCOUNT BITPOS BITFIELD_RO PFCOUNT SORT_RO
    GEOPOS GEODIST GEOHASH GEOSEARCH GEORADIUS_RO GEORADIUSBYMEMBER_RO
    JSON.GET JSON.MGET JSON.TYPE JSON.STRLEN JSON.ARRLEN JSON.ARRINDEX JSON.OBJKEYS JSON.OBJLEN JSON.RESP
    """
)

# Writes: change keys of this connection's database only (no FLUSHDB, MOVE, SWAPDB, RESTORE...).
WRITE_COMMANDS: frozenset[str] = _words(
    """
    SET SETNX SETEX PSETEX MSET MSETNX APPEND SETRANGE GETSET GETDEL GETEX
    INCR INCRBY INCRBYFLOAT DECR DECRBY
    DEL UNLINK EXPIRE PEXPIRE EXPIREAT PEXPIREAT PERSIST RENAME RENAMENX COPY
    HSET HSETNX HMSET HDEL HINCRBY HINCRBYFLOAT
    LPUSH RPUSH LPUSHX RPUSHX LPOP RPOP LSET LREM LTRIM LINSERT LMOVE RPOPLPUSH LMPOP
    SADD SREM SPOP SMOVE SINTERSTORE SUNIONSTORE SDIFFSTORE
    ZADD ZREM ZINCRBY ZPOPMIN ZPOPMAX ZMPOP ZREMRANGEBYRANK ZREMRANGEBYSCORE ZREMRANGEBYLEX
    ZRANGESTORE ZINTERSTORE ZUNIONSTORE ZDIFFSTORE
    XADD XDEL XTRIM XGROUP XACK XCLAIM XAUTOCLAIM
    SETBIT BITOP BITFIELD PFADD PFMERGE GEOADD GEOSEARCHSTORE GEORADIUS GEORADIUSBYMEMBER SORT
    JSON.SET JSON.DEL JSON.FORGET JSON.MERGE JSON.MSET JSON.CLEAR JSON.TOGGLE JSON.NUMINCRBY
    JSON.STRAPPEND JSON.ARRAPPEND JSON.ARRINSERT JSON.ARRPOP JSON.ARRTRIM
    """
)

# Admin: server-wide, scripted or data-destroying commands. Only on admin connections, via redis_admin.
ADMIN_COMMANDS: frozenset[str] = _words(
    """
    FLUSHALL FLUSHDB CONFIG SHUTDOWN DEBUG SCRIPT EVAL EVALSHA EVAL_RO EVALSHA_RO FCALL FCALL_RO
    FUNCTION MODULE CLIENT SLAVEOF REPLICAOF MIGRATE MOVE SWAPDB RESTORE SAVE BGSAVE BGREWRITEAOF
    LASTSAVE ACL SLOWLOG LATENCY FAILOVER
    """
)

# Container commands: only these subcommands are allowed (the first argument).
SUBCOMMANDS: Mapping[str, frozenset[str]] = {
    "OBJECT": frozenset({"ENCODING", "FREQ", "IDLETIME", "REFCOUNT"}),
    "XINFO": frozenset({"STREAM", "GROUPS", "CONSUMERS"}),
    "MEMORY": frozenset({"USAGE"}),
    "XGROUP": frozenset({"CREATE", "DESTROY", "SETID", "CREATECONSUMER", "DELCONSUMER"}),
    "CONFIG": frozenset({"GET", "SET", "RESETSTAT", "REWRITE"}),
    "SCRIPT": frozenset({"LOAD", "EXISTS", "FLUSH", "KILL"}),
    "FUNCTION": frozenset({"LIST", "LOAD", "DELETE", "FLUSH", "KILL", "STATS", "DUMP", "RESTORE"}),
    "MODULE": frozenset({"LIST", "LOAD", "UNLOAD"}),
    "CLIENT": frozenset({"LIST", "INFO", "KILL", "PAUSE", "UNPAUSE"}),
    "DEBUG": frozenset({"OBJECT"}),
    "ACL": frozenset({"LIST", "USERS", "WHOAMI", "GETUSER", "SETUSER", "DELUSER", "CAT", "LOG"}),
    "SLOWLOG": frozenset({"GET", "LEN", "RESET"}),
    "LATENCY": frozenset({"DOCTOR", "LATEST", "HISTORY", "RESET"}),
}
# In the admin tool MEMORY offers more than USAGE.
ADMIN_SUBCOMMANDS: Mapping[str, frozenset[str]] = {
    **SUBCOMMANDS,
    "MEMORY": frozenset({"USAGE", "STATS", "DOCTOR", "PURGE", "MALLOC-STATS"}),
}

# Never run by any tool: they hold or change the state of a pooled connection, block it, or
# enumerate the whole keyspace at once.
NEVER: Mapping[str, str] = {
    **dict.fromkeys(
        ("MULTI", "EXEC", "DISCARD", "WATCH", "UNWATCH"),
        "transactions would leak into a shared pooled connection; send one command per call",
    ),
    **dict.fromkeys(
        ("SELECT", "AUTH", "HELLO", "RESET", "QUIT", "READONLY", "READWRITE", "ASKING"),
        "it changes the pooled connection's state; the database and user come from the connection's url",
    ),
    **dict.fromkeys(
        ("SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE", "MONITOR"),
        "it turns the connection into a push stream",
    ),
    **dict.fromkeys(("SYNC", "PSYNC", "REPLCONF"), "it is part of the replication protocol"),
    **dict.fromkeys(
        (
            "BLPOP",
            "BRPOP",
            "BLMOVE",
            "BRPOPLPUSH",
            "BLMPOP",
            "BZPOPMIN",
            "BZPOPMAX",
            "BZMPOP",
            "XREAD",
            "XREADGROUP",
            "WAIT",
            "WAITAOF",
        ),
        "it can block the connection; use the non-blocking form (LPOP, XRANGE...)",
    ),
    "KEYS": "it walks the whole keyspace in one call; use redis_scan with a MATCH pattern",
}

# Options that would reach outside the connection's database.
_FORBIDDEN_OPTIONS: Mapping[str, tuple[str, str]] = {
    "COPY": ("DB", "COPY ... DB <n> writes into another database; copy within this connection's database"),
}

TOOL_COMMANDS: Mapping[RedisTool, frozenset[str]] = {
    "redis_read": READ_COMMANDS,
    "redis_write": WRITE_COMMANDS,
    "redis_admin": ADMIN_COMMANDS,
}


def _owner(name: str) -> RedisTool | None:
    for tool, names in TOOL_COMMANDS.items():
        if name in names:
            return tool
    return None


def allowed_list(tool: RedisTool) -> str:
    return " ".join(sorted(TOOL_COMMANDS[tool]))


def check_command(tool: RedisTool, command: str, args: Sequence[str]) -> str:
    """The canonical (upper-case) name of ``command`` when ``tool`` may run it with ``args``; else a refusal."""
    if not COMMAND_NAME.match(command):
        raise RedisToolError(
            "invalid_command",
            f"{command[:60]!r} is not a command name: give one word in 'command' (e.g. GET) and "
            "each argument as a separate string in 'args'",
        )
    if len(args) > MAX_ARGS:
        raise RedisToolError("too_many_args", f"at most {MAX_ARGS} arguments per call; split the work")
    name = command.upper()
    if name in NEVER:
        raise RedisToolError("command_not_allowed", f"{name} is never allowed: {NEVER[name]}")
    owner = _owner(name)
    if owner != tool:
        where = {
            "redis_read": "it is a read command: use redis_read",
            "redis_write": "it is a write command: use redis_write on a read_write or admin connection",
            "redis_admin": "it is an admin command: only redis_admin on an admin connection runs it",
            None: "it is on no allow-list",
        }[owner]
        raise RedisToolError(
            "command_not_allowed", f"{tool} does not run {name} ({where}). {tool} allows: {allowed_list(tool)}"
        )
    subcommands = (ADMIN_SUBCOMMANDS if tool == "redis_admin" else SUBCOMMANDS).get(name)
    if subcommands is not None:
        sub = args[0].upper() if args else ""
        if sub not in subcommands:
            raise RedisToolError(
                "command_not_allowed",
                f"{tool} runs {name} only with one of these subcommands as the first argument: "
                f"{' '.join(sorted(subcommands))}",
            )
    forbidden = _FORBIDDEN_OPTIONS.get(name)
    if forbidden and any(arg.upper() == forbidden[0] for arg in args):
        raise RedisToolError("option_not_allowed", forbidden[1])
    return name


def command_info_name(name: str, args: Sequence[str]) -> str:
    """The name ``COMMAND INFO`` knows the call by: ``object|encoding`` for container commands."""
    if name in ADMIN_SUBCOMMANDS and args:
        return f"{name}|{args[0]}".lower()
    return name.lower()


# The server flags that disqualify a command for a tool, whatever our list says (defence in depth).
FORBIDDEN_FLAGS: Mapping[RedisTool, frozenset[str]] = {
    "redis_read": frozenset({"write", "admin", "blocking", "pubsub", "denyoom"}),
    "redis_write": frozenset({"admin", "blocking", "pubsub"}),
    "redis_admin": frozenset({"pubsub"}),
}
