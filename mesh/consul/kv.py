"""Consul KV: read, write and follow a key or a prefix with blocking queries.

Values travel base64-encoded in ``Value``; each entry carries ``ModifyIndex``. A watch hands
its callback the entries only when a key appeared, disappeared or its ``ModifyIndex`` moved,
so an idle wake-up of the blocking query (no change, or a write elsewhere) costs nothing.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from mesh.consul.http import ConsulHttp, ConsulResponse, filtered_reason
from mesh.consul.watch import Backoff, OnError, watch_blocking


@dataclass(frozen=True)
class KvEntry:
    key: str
    value: bytes | None
    modify_index: int


def kv_path(key: str) -> str:
    return "/v1/kv/" + quote(key, safe="/")


def parse_entries(body: Any) -> dict[str, KvEntry]:
    """The entries of a ``GET /v1/kv/...`` answer, by key."""
    found: dict[str, KvEntry] = {}
    for item in body or []:
        raw = item.get("Value")
        value = base64.b64decode(raw) if raw is not None else None
        found[str(item["Key"])] = KvEntry(str(item["Key"]), value, int(item.get("ModifyIndex") or 0))
    return found


async def kv_get(http: ConsulHttp, key: str, *, recurse: bool = False) -> dict[str, KvEntry]:
    response = await http.request("GET", kv_path(key), params={"recurse": "1"} if recurse else {}, allow=(404,))
    return {} if response.status == 404 else parse_entries(response.json())


async def kv_put(http: ConsulHttp, key: str, value: bytes) -> bool:
    response = await http.request("PUT", kv_path(key), content=value)
    return bool(response.json())


async def kv_delete(http: ConsulHttp, key: str, *, recurse: bool = False) -> bool:
    response = await http.request("DELETE", kv_path(key), params={"recurse": "1"} if recurse else {})
    return bool(response.json())


OnChange = Callable[[dict[str, KvEntry]], Awaitable[None]]


async def watch_kv(
    http: ConsulHttp,
    key: str,
    *,
    recurse: bool = False,
    wait_seconds: float,
    on_change: OnChange,
    on_error: OnError,
    backoff: Backoff | None = None,
) -> None:
    """Follow ``key`` (or every key under it with ``recurse``) until cancelled; ``on_change`` on every real change.

    The first answer always counts as a change (an empty dict when the key does not exist yet).
    An answer filtered by ACLs (a token without ``key:read`` on some keys under a prefix) is not a
    change: the missing keys are unreadable, not deleted, so ``on_error`` hears why and the last
    entries stay. (A single key the token may not read is refused with 403, also an error.)
    """
    seen: dict[str, int] | None = None

    async def on_result(response: ConsulResponse) -> None:
        nonlocal seen
        if response.filtered:
            on_error(filtered_reason(key, "key:read"))
            return
        entries = {} if response.status == 404 else parse_entries(response.json())
        shape = {name: entry.modify_index for name, entry in entries.items()}
        if shape != seen:
            seen = shape
            await on_change(entries)

    await watch_blocking(
        http,
        kv_path(key),
        {"recurse": "1"} if recurse else {},
        wait_seconds=wait_seconds,
        on_result=on_result,
        on_error=on_error,
        backoff=backoff,
        allow=(404,),
    )
