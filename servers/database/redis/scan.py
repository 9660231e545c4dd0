"""SCAN in pages with a key and byte budget, and INFO as a compact summary.

A page never cuts a SCAN batch in half (the keys after the cut could not be resumed): before
each round trip it asks for no more keys than are left in the budget, so a page ends at a
cursor boundary and may pass ``max_keys`` only by the few extra keys Redis can return in one
batch. The number of round trips per page is capped too, so a rare ``MATCH`` over a big keyspace
returns an empty page with a cursor instead of walking everything in one call.
"""

from __future__ import annotations

from typing import Any, Literal

from servers.database.redis.client import RedisHandle
from servers.database.redis.errors import RedisToolError
from servers.database.redis.models import RedisInfo, RedisScanPage
from servers.database.redis.values import text_or_base64
from servers.kit.budgets import json_size

MAX_ITERATIONS = 1_000
KeyType = Literal["string", "list", "set", "zset", "hash", "stream", "ReJSON-RL"]


async def scan_page(
    handle: RedisHandle,
    *,
    cursor: str,
    match: str | None,
    key_type: KeyType | None,
    count: int,
    max_keys: int,
) -> RedisScanPage:
    if not cursor.isdigit():
        raise RedisToolError("invalid_cursor", "cursor is the next_cursor of a previous page, or '0' to start")
    max_bytes = handle.connection.max_bytes
    keys: list[str | dict[str, str]] = []
    used = 2
    iterations = 0
    reason: Literal["max_keys", "max_bytes", "max_iterations"] | None = None
    while True:
        if len(keys) >= max_keys:
            reason = "max_keys"
            break
        if used >= max_bytes:
            reason = "max_bytes"
            break
        if iterations >= MAX_ITERATIONS:
            reason = "max_iterations"
            break
        parts: list[Any] = ["SCAN", cursor]
        if match is not None:
            parts += ["MATCH", match]
        if key_type is not None:
            parts += ["TYPE", key_type]
        parts += ["COUNT", max(1, min(count, max_keys - len(keys)))]
        reply = await handle.execute("SCAN", *parts)
        iterations += 1
        cursor = _text(reply[0])
        for raw in reply[1]:
            key = text_or_base64(raw)
            keys.append(key)
            used += json_size(key) + 1
        if cursor == "0":
            break
    done = cursor == "0"
    return RedisScanPage(
        connection=handle.name,
        keys=keys,
        next_cursor=None if done else cursor,
        truncated=not done,
        truncated_reason=None if done else reason,
        iterations=iterations,
    )


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def parse_info(text: str) -> dict[str, dict[str, str]]:
    """``INFO``'s ``# Section`` / ``field:value`` text as {section: {field: value}}."""
    sections: dict[str, dict[str, str]] = {}
    current = sections.setdefault("default", {})
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith("#"):
            current = sections.setdefault(line.lstrip("# ").lower(), {})
            continue
        field, sep, value = line.partition(":")
        if sep:
            current[field] = value
    return {name: fields for name, fields in sections.items() if fields}


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _keyspace(fields: dict[str, str]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for db, text in fields.items():
        entry: dict[str, int] = {}
        for part in text.split(","):
            name, _, value = part.partition("=")
            number = _int(value)
            if number is not None:
                entry[name] = number
        out[db] = entry
    return out


async def info_summary(handle: RedisHandle, shown_url: str, sections: list[str]) -> RedisInfo:
    raw = await handle.execute("INFO", "INFO", "server", "clients", "memory", "replication", "keyspace")
    info = parse_info(_text(raw))
    dbsize = int(await handle.execute("DBSIZE", "DBSIZE"))
    asked: dict[str, dict[str, str]] = {}
    if sections:
        extra = parse_info(_text(await handle.execute("INFO", "INFO", *sections)))
        asked = {name: fields for name, fields in extra.items() if name in sections}
    server, memory = info.get("server", {}), info.get("memory", {})
    return RedisInfo(
        connection=handle.name,
        url=shown_url,
        redis_version=server.get("redis_version"),
        mode=server.get("redis_mode"),
        role=info.get("replication", {}).get("role"),
        uptime_seconds=_int(server.get("uptime_in_seconds")),
        connected_clients=_int(info.get("clients", {}).get("connected_clients")),
        used_memory_bytes=_int(memory.get("used_memory")),
        used_memory_human=memory.get("used_memory_human"),
        maxmemory_bytes=_int(memory.get("maxmemory")),
        maxmemory_policy=memory.get("maxmemory_policy"),
        dbsize=dbsize,
        keyspace=_keyspace(info.get("keyspace", {})),
        sections=asked,
    )
