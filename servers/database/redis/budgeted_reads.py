"""Reads that could return a whole collection or a huge string, reshaped to fetch only the budget.

Post-hoc truncation would still pull a 10-million-element list into the server's memory. So:
``GET`` checks ``STRLEN`` and fetches a prefix with ``GETRANGE``; ``HGETALL``/``SMEMBERS`` check
the size and fall back to ``HSCAN``/``SSCAN`` up to the budget; ``LRANGE``/``ZRANGE`` (by index)
clamp the range; range queries by score or lex and ``XRANGE`` get a ``LIMIT``/``COUNT``. Every
other read runs as given and its reply is truncated afterwards (see :mod:`.values`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from servers.database.redis.client import RedisHandle
from servers.database.redis.values import Budgeted, budget


@dataclass
class Plan:
    """What actually runs for a read, and what to say when it was cut short."""

    reply: Any
    truncated: bool = False
    items: int | None = None
    hint: str | None = None


async def budgeted_read(handle: RedisHandle, name: str, args: Sequence[str], max_rows: int) -> Plan:
    """Run the read ``name args`` so that no more than about the budget is fetched."""
    if name == "GET" and len(args) == 1:
        return await _get(handle, args[0])
    if name in ("HGETALL", "SMEMBERS") and len(args) == 1:
        return await _whole_collection(handle, name, args[0], max_rows)
    if name in ("LRANGE", "ZRANGE", "ZREVRANGE") and len(args) >= 3 and _index_form(name, args):
        return await _index_range(handle, name, args, max_rows)
    if name in ("ZRANGE", "ZRANGEBYSCORE", "ZREVRANGEBYSCORE", "ZRANGEBYLEX", "ZREVRANGEBYLEX"):
        return await _with_limit(handle, name, args, max_rows)
    if name in ("XRANGE", "XREVRANGE") and len(args) >= 3:
        return await _with_count(handle, name, args, max_rows)
    return Plan(await handle.execute(name, name, *args))


def _index_form(name: str, args: Sequence[str]) -> bool:
    if name != "ZRANGE":
        return True
    options = {arg.upper() for arg in args[3:]}
    return not options & {"BYSCORE", "BYLEX", "LIMIT"}


async def _get(handle: RedisHandle, key: str) -> Plan:
    # One round trip: the type, the length and a budget-sized prefix (the whole value when it fits).
    max_bytes = handle.connection.max_bytes

    async def probe() -> list[Any]:
        pipe = handle.client.pipeline(transaction=False)
        pipe.execute_command("TYPE", key)
        pipe.execute_command("STRLEN", key)
        pipe.execute_command("GETRANGE", key, 0, max_bytes - 1)
        return list(await pipe.execute(raise_on_error=False))

    kind, length, prefix = await handle.call("GET", probe)
    if kind in (b"none", "none"):
        return Plan(None)
    if kind not in (b"string", "string") or isinstance(length, Exception) or isinstance(prefix, Exception):
        return Plan(await handle.execute("GET", "GET", key))  # the server's own WRONGTYPE error
    if int(length) <= max_bytes:
        return Plan(prefix)
    return Plan(
        prefix,
        truncated=True,
        items=None,
        hint=f"the value is {length} bytes; read further with GETRANGE {key} <start> <end>",
    )


async def _whole_collection(handle: RedisHandle, name: str, key: str, max_rows: int) -> Plan:
    size_command, scan_command = ("HLEN", "HSCAN") if name == "HGETALL" else ("SCARD", "SSCAN")
    size = int(await handle.execute(size_command, size_command, key))
    if size <= max_rows:
        return Plan(await handle.execute(name, name, key), items=size)
    found: dict[Any, Any] | list[Any] = {} if name == "HGETALL" else []
    cursor: bytes | str = b"0"
    while True:
        reply = await handle.execute(scan_command, scan_command, key, cursor, "COUNT", min(max_rows, 1000))
        cursor, batch = reply[0], reply[1]
        if isinstance(found, dict):
            found.update(zip(batch[0::2], batch[1::2], strict=True))
        else:
            found.extend(batch)
        if len(found) >= max_rows or cursor in (b"0", "0"):
            break
    return Plan(
        found,
        truncated=True,
        items=size,
        hint=f"{key} holds {size} entries, more than max_rows ({max_rows}); page through it with {scan_command}",
    )


def _bounds(start: int, stop: int, size: int) -> tuple[int, int]:
    if start < 0:
        start = max(size + start, 0)
    if stop < 0:
        stop = size + stop
    return start, min(stop, size - 1)


async def _index_range(handle: RedisHandle, name: str, args: Sequence[str], max_rows: int) -> Plan:
    key, start_text, stop_text, *rest = args
    try:
        start, stop = int(start_text), int(stop_text)
    except ValueError:
        return Plan(await handle.execute(name, name, *args))  # the server explains the bad index
    size_command = "LLEN" if name == "LRANGE" else "ZCARD"
    size = int(await handle.execute(size_command, size_command, key))
    first, last = _bounds(start, stop, size)
    count = max(last - first + 1, 0)
    if count <= max_rows:
        return Plan(await handle.execute(name, name, *args), items=count)
    clamped_last = first + max_rows - 1
    reply = await handle.execute(name, name, key, str(first), str(clamped_last), *rest)
    return Plan(
        reply,
        truncated=True,
        items=count,
        hint=f"{count} elements are in range; continue with start={clamped_last + 1}",
    )


async def _with_limit(handle: RedisHandle, name: str, args: Sequence[str], max_rows: int) -> Plan:
    upper = [arg.upper() for arg in args]
    call = list(args)
    if "LIMIT" in upper:
        at = upper.index("LIMIT")
        if at + 2 < len(call):
            try:
                count = int(call[at + 2])
            except ValueError:
                count = max_rows + 1
            if count < 0 or count > max_rows + 1:
                call[at + 2] = str(max_rows + 1)
    elif name != "ZRANGE" or {"BYSCORE", "BYLEX"} & set(upper):
        call += ["LIMIT", "0", str(max_rows + 1)]
    return _over_budget(await handle.execute(name, name, *call), max_rows, "add LIMIT <offset> <count> to page on")


async def _with_count(handle: RedisHandle, name: str, args: Sequence[str], max_rows: int) -> Plan:
    upper = [arg.upper() for arg in args]
    call = list(args)
    if "COUNT" in upper and upper.index("COUNT") + 1 < len(call):
        at = upper.index("COUNT") + 1
        try:
            if int(call[at]) > max_rows + 1:
                call[at] = str(max_rows + 1)
        except ValueError:
            pass
    else:
        call += ["COUNT", str(max_rows + 1)]
    return _over_budget(
        await handle.execute(name, name, *call), max_rows, "continue from just after the last entry id with COUNT"
    )


def _over_budget(reply: Any, max_rows: int, hint: str) -> Plan:
    # One element past the budget was asked for: its presence says there is more.
    if isinstance(reply, list) and len(reply) > max_rows:
        return Plan(reply[:max_rows], truncated=True, hint=hint)
    return Plan(reply)


def finish(plan: Plan, max_rows: int, max_bytes: int) -> Budgeted:
    """The plan's reply cut to the budget, remembering any cut the plan itself made."""
    shaped = budget(plan.reply, max_rows, max_bytes)
    if plan.truncated and not shaped.truncated:
        shaped.truncated, shaped.reason = True, "max_rows"
    if plan.items is not None:
        shaped.items = plan.items
    return shaped
