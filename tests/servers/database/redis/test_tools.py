"""The Redis tools against the real Redis at 127.0.0.1:6379: reads, writes, budgets, scan, info, errors."""

from __future__ import annotations

import pytest

from servers.database.redis.tools import redis_readiness
from tests.servers.database.redis.support import Seeded, connection, seeded, server_for
from tests.servers.database.tool_calls import call, data, refused, text_of, tool_names

__all__ = ["seeded"]
pytestmark = pytest.mark.anyio


async def test_a_read_only_server_lists_only_the_read_tools() -> None:
    assert await tool_names(server_for(cache=connection("read_only"))) == {"redis_read", "redis_scan", "redis_info"}


async def test_a_read_write_connection_adds_redis_write_but_not_redis_admin() -> None:
    names = await tool_names(server_for(cache=connection("read_only"), store=connection("read_write")))
    assert names == {"redis_read", "redis_scan", "redis_info", "redis_write"}


async def test_an_admin_connection_adds_redis_admin() -> None:
    assert "redis_admin" in await tool_names(server_for(ops=connection("admin")))


async def test_redis_read_returns_strings_hashes_and_ttls(seeded: Seeded) -> None:
    await seeded.raw.set(seeded.key("greeting"), "hello", ex=100)
    await seeded.raw.hset(seeded.key("user"), mapping={"name": "ada", "lang": "en"})
    server = server_for(cache=connection("read_only"))

    got = data(await call(server, "redis_read", {"command": "get", "args": [seeded.key("greeting")]}))
    assert got["result"] == "hello" and got["command"] == "GET" and got["truncated"] is False
    whole = data(await call(server, "redis_read", {"command": "HGETALL", "args": [seeded.key("user")]}))
    assert whole["result"] == {"name": "ada", "lang": "en"}
    ttl = data(await call(server, "redis_read", {"command": "TTL", "args": [seeded.key("greeting")]}))
    assert 0 < ttl["result"] <= 100
    missing = data(await call(server, "redis_read", {"command": "GET", "args": [seeded.key("nope")]}))
    assert missing["result"] is None


async def test_binary_values_come_back_as_base64(seeded: Seeded) -> None:
    await seeded.raw.set(seeded.key("blob"), b"\xff\x00\xfe")
    got = data(await call(server_for(c=connection()), "redis_read", {"command": "GET", "args": [seeded.key("blob")]}))
    assert got["result"] == {"base64": "/wD+"}


async def test_a_read_of_the_wrong_type_gives_the_servers_error(seeded: Seeded) -> None:
    await seeded.raw.rpush(seeded.key("list"), "a")
    result = await call(server_for(c=connection()), "redis_read", {"command": "GET", "args": [seeded.key("list")]})
    assert "WRONGTYPE" in refused(result, "redis_error")


async def test_redis_write_sets_with_expiry_and_respects_nx(seeded: Seeded) -> None:
    server = server_for(store=connection("read_write"))
    key = seeded.key("k")
    first = data(await call(server, "redis_write", {"command": "SET", "args": [key, "v1", "EX", "60", "NX"]}))
    assert first["result"] == "OK"
    second = data(await call(server, "redis_write", {"command": "set", "args": [key, "v2", "NX"]}))
    assert second["result"] is None
    assert await seeded.raw.get(key) == b"v1"
    assert 0 < await seeded.raw.ttl(key) <= 60
    pushed = data(await call(server, "redis_write", {"command": "RPUSH", "args": [seeded.key("l"), "a", "b"]}))
    assert pushed["result"] == 2


async def test_an_argument_holding_crlf_and_a_command_is_stored_as_plain_data(seeded: Seeded) -> None:
    await seeded.raw.set(seeded.key("other"), "kept")
    server = server_for(store=connection("read_write"))
    value = "v\r\nFLUSHALL\r\n"
    data(await call(server, "redis_write", {"command": "SET", "args": [seeded.key("k"), value]}))
    assert await seeded.raw.get(seeded.key("k")) == value.encode()
    assert await seeded.raw.get(seeded.key("other")) == b"kept"


async def test_redis_write_refuses_a_read_only_connection_and_changes_nothing(seeded: Seeded) -> None:
    await seeded.raw.set(seeded.key("k"), "before")
    server = server_for(cache=connection("read_only"), store=connection("read_write"))
    result = await call(
        server, "redis_write", {"command": "SET", "args": [seeded.key("k"), "after"], "connection": "cache"}
    )
    assert "read_write or admin" in refused(result, "read_only")
    assert await seeded.raw.get(seeded.key("k")) == b"before"


async def test_an_unknown_connection_is_refused_with_the_known_names() -> None:
    server = server_for(cache=connection(), store=connection("read_write"))
    message = refused(
        await call(server, "redis_read", {"command": "GET", "args": ["x"], "connection": "nope"}), "unknown_connection"
    )
    assert "cache" in message and "store" in message


async def test_with_two_connections_the_connection_must_be_named() -> None:
    server = server_for(cache=connection(), store=connection("read_write"))
    refused(await call(server, "redis_read", {"command": "GET", "args": ["x"]}), "connection_required")


async def test_hgetall_of_a_big_hash_fetches_only_the_row_budget(seeded: Seeded) -> None:
    key = seeded.key("big")
    await seeded.raw.hset(key, mapping={f"f{i}": str(i) for i in range(300)})
    got = data(await call(server_for(c=connection(max_rows=100)), "redis_read", {"command": "HGETALL", "args": [key]}))
    assert got["truncated"] is True and got["items"] == 300
    assert 100 <= len(got["result"]) < 300
    assert "HSCAN" in got["hint"]


async def test_lrange_of_everything_returns_one_budget_and_says_where_to_continue(seeded: Seeded) -> None:
    key = seeded.key("list")
    await seeded.raw.rpush(key, *[str(i) for i in range(300)])
    server = server_for(c=connection(max_rows=100))
    got = data(await call(server, "redis_read", {"command": "LRANGE", "args": [key, "0", "-1"]}))
    assert got["result"] == [str(i) for i in range(100)]
    assert got["truncated"] is True and got["items"] == 300 and "start=100" in got["hint"]
    following = data(await call(server, "redis_read", {"command": "LRANGE", "args": [key, "100", "199"]}))
    assert following["result"] == [str(i) for i in range(100, 200)] and following["truncated"] is False


async def test_a_score_range_gets_a_limit_and_a_stream_range_a_count(seeded: Seeded) -> None:
    zset, stream = seeded.key("z"), seeded.key("s")
    await seeded.raw.zadd(zset, {f"m{i}": i for i in range(50)})
    for i in range(50):
        await seeded.raw.xadd(stream, {"n": str(i)})
    server = server_for(c=connection(max_rows=20))
    scores = data(await call(server, "redis_read", {"command": "ZRANGEBYSCORE", "args": [zset, "-inf", "+inf"]}))
    assert scores["result"] == [f"m{i}" for i in range(20)] and scores["truncated"] is True
    entries = data(await call(server, "redis_read", {"command": "XRANGE", "args": [stream, "-", "+"]}))
    assert len(entries["result"]) == 20 and entries["truncated"] is True
    small = data(await call(server, "redis_read", {"command": "ZRANGE", "args": [zset, "0", "4", "WITHSCORES"]}))
    assert small["result"] == [["m0", 0.0], ["m1", 1.0], ["m2", 2.0], ["m3", 3.0], ["m4", 4.0]]


async def test_get_of_a_value_past_the_byte_budget_returns_a_prefix(seeded: Seeded) -> None:
    key = seeded.key("large")
    await seeded.raw.set(key, "x" * 5000)
    got = data(await call(server_for(c=connection(max_bytes=1024)), "redis_read", {"command": "GET", "args": [key]}))
    assert got["result"] == "x" * 1024 and got["truncated"] is True and "GETRANGE" in got["hint"]


async def test_mget_is_cut_at_the_byte_budget(seeded: Seeded) -> None:
    keys = [seeded.key(f"k{i}") for i in range(20)]
    await seeded.raw.mset({key: "y" * 200 for key in keys})
    got = data(await call(server_for(c=connection(max_bytes=1024)), "redis_read", {"command": "MGET", "args": keys}))
    assert got["truncated"] is True and got["truncated_reason"] == "max_bytes"
    assert 0 < len(got["result"]) < 20 and got["items"] == 20


async def test_scan_pages_through_every_key_with_a_cursor(seeded: Seeded) -> None:
    await seeded.raw.mset({seeded.key(f"s{i}"): "1" for i in range(250)})
    server = server_for(c=connection(max_rows=200))
    seen: list[str] = []
    cursor: str | None = "0"
    pages = 0
    while cursor is not None:
        page = data(
            await call(
                server, "redis_scan", {"cursor": cursor, "match": f"{seeded.prefix}*", "count": 20, "max_keys": 40}
            )
        )
        assert len(page["keys"]) <= 40 + 20
        seen += page["keys"]
        cursor = page["next_cursor"]
        assert page["truncated"] is (cursor is not None)
        pages += 1
    assert set(seen) == {seeded.key(f"s{i}") for i in range(250)}
    assert pages >= 250 // 60


async def test_scan_filters_by_type(seeded: Seeded) -> None:
    await seeded.raw.set(seeded.key("str"), "1")
    await seeded.raw.hset(seeded.key("h1"), "f", "v")
    await seeded.raw.hset(seeded.key("h2"), "f", "v")
    server = server_for(c=connection())
    keys: set[str] = set()
    cursor: str | None = "0"
    while cursor is not None:
        page = data(
            await call(
                server, "redis_scan", {"cursor": cursor, "match": f"{seeded.prefix}*", "type": "hash", "count": 1000}
            )
        )
        keys |= set(page["keys"])
        cursor = page["next_cursor"]
    assert keys == {seeded.key("h1"), seeded.key("h2")}


async def test_scan_refuses_a_cursor_that_is_not_a_number() -> None:
    refused(await call(server_for(c=connection()), "redis_scan", {"cursor": "abc"}), "invalid_cursor")


async def test_redis_info_is_a_compact_summary_with_the_sections_asked_for() -> None:
    plain = data(await call(server_for(c=connection()), "redis_info", {"sections": ["stats"]}))
    assert plain["redis_version"] and plain["dbsize"] >= 0 and "total_commands_processed" in plain["sections"]["stats"]
    assert set(plain["sections"]) == {"stats"}


async def test_an_unreachable_redis_gives_a_clear_error_without_the_password() -> None:
    server = server_for(c=connection(url="redis://app:s3cret-pw@127.0.0.1:1/0", statement_timeout_ms=2000))
    message = refused(await call(server, "redis_read", {"command": "GET", "args": ["k"]}), "unreachable")
    assert "s3cret-pw" not in message and "127.0.0.1:1" in message


async def test_a_wrong_password_is_reported_without_the_password() -> None:
    server = server_for(c=connection(url="redis://app:wr0ng-pw@127.0.0.1:6379/15"))
    result = await call(server, "redis_read", {"command": "GET", "args": ["k"]})
    assert result.is_error and "wr0ng-pw" not in text_of(result)


async def test_readiness_pings_and_hides_the_password() -> None:
    ok, detail = await redis_readiness("c", connection())
    assert ok and "PING" in detail
    down, why = await redis_readiness("d", connection(url="redis://app:s3cret-pw@127.0.0.1:1/0"))
    assert not down and "s3cret-pw" not in why and "cannot reach" in why


async def test_a_module_command_the_server_lacks_is_reported_as_unknown() -> None:
    refused(
        await call(server_for(c=connection()), "redis_read", {"command": "JSON.GET", "args": ["k"]}), "unknown_command"
    )


async def test_redis_admin_runs_admin_commands_only_on_admin_connections(seeded: Seeded) -> None:
    server = server_for(ops=connection("admin"), store=connection("read_write"))
    got = data(
        await call(
            server, "redis_admin", {"connection": "ops", "command": "CONFIG", "args": ["GET", "maxmemory-policy"]}
        )
    )
    assert "maxmemory-policy" in got["result"]
    key = seeded.key("scripted")
    data(
        await call(
            server,
            "redis_admin",
            {"connection": "ops", "command": "EVAL", "args": ["return redis.call('SET', KEYS[1], 'x')", "1", key]},
        )
    )
    assert await seeded.raw.get(key) == b"x"
    result = await call(
        server, "redis_admin", {"connection": "store", "command": "CONFIG", "args": ["GET", "maxmemory"]}
    )
    refused(result, "not_admin")


async def test_a_call_past_the_statement_timeout_is_cut_off_with_a_timeout_error() -> None:
    import asyncio

    from servers.database.redis.client import redis_handle
    from servers.database.redis.errors import RedisToolError
    from servers.database.redis.tools import close_redis_clients

    handle = redis_handle("slow", connection(statement_timeout_ms=50))
    never = asyncio.Event()
    with pytest.raises(RedisToolError) as caught:
        await handle.call("GET", never.wait)
    assert caught.value.code == "timeout" and "50 ms" in caught.value.detail
    await close_redis_clients()
