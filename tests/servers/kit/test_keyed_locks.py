"""Keyed locks: holders of overlapping keys take turns in key order, and a lock nobody wants is forgotten."""

from __future__ import annotations

import anyio
import anyio.lowlevel
import pytest

from servers.kit.keyed_locks import KeyedLocks

pytestmark = pytest.mark.anyio


async def test_holders_of_the_same_keys_in_opposite_orders_take_turns_and_nothing_is_kept_after() -> None:
    locks = KeyedLocks()
    inside: list[str] = []
    overlap = 0

    async def hold(label: str, keys: list[str]) -> None:
        nonlocal overlap
        async with locks.hold(*keys):
            inside.append(label)
            overlap = max(overlap, len(inside))
            await anyio.lowlevel.checkpoint()  # let the other holder try its turn
            inside.remove(label)

    with anyio.fail_after(5):  # opposite orders would deadlock without the key order
        async with anyio.create_task_group() as group:
            for n in range(20):
                group.start_soon(hold, f"ab{n}", ["a", "b"])
                group.start_soon(hold, f"ba{n}", ["b", "a"])
    assert overlap == 1 and len(locks) == 0


async def test_holders_of_other_keys_do_not_wait_for_each_other() -> None:
    locks = KeyedLocks()
    async with locks.hold("a"):
        with anyio.fail_after(1):
            async with locks.hold("b", "b"):
                assert len(locks) == 2
    assert len(locks) == 0


async def test_a_waiter_cancelled_before_its_turn_leaves_no_lock_behind() -> None:
    locks = KeyedLocks()
    waiting = anyio.Event()

    async def wait_for_a(scope: anyio.CancelScope) -> None:
        with scope:
            waiting.set()
            async with locks.hold("a", "b"):
                pytest.fail("the waiter got the lock while another task held it")

    async with locks.hold("a"):
        async with anyio.create_task_group() as group:
            scope = anyio.CancelScope()
            group.start_soon(wait_for_a, scope)
            await waiting.wait()
            await anyio.lowlevel.checkpoint()  # the waiter is now blocked on "a"
            scope.cancel()
        assert len(locks) == 1
    assert len(locks) == 0
