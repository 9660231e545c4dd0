"""A carpool serves the calls queued while one drive runs with the next drive, each with its own outcome."""

from __future__ import annotations

from dataclasses import dataclass, field

import anyio
import pytest

from servers.kit.carpool import Carpool

pytestmark = pytest.mark.anyio


@dataclass(eq=False)
class _Ask:
    value: int
    done: anyio.Event = field(default_factory=anyio.Event)
    error: BaseException | None = None
    answer: int | None = None


async def test_calls_queued_during_a_drive_go_together_in_the_next_and_each_gets_its_answer() -> None:
    drives: list[list[int]] = []
    first_running, release = anyio.Event(), anyio.Event()

    async def drive(queue: list[_Ask]) -> None:
        taken = list(queue)
        del queue[:]
        drives.append([ask.value for ask in taken])
        if len(drives) == 1:
            first_running.set()
            await release.wait()
        for ask in taken:
            if ask.value < 0:
                ask.error = ValueError(f"{ask.value} is negative")
            else:
                ask.answer = ask.value * 10
            ask.done.set()

    pool: Carpool[_Ask] = Carpool(drive)
    asks = [_Ask(1), _Ask(2), _Ask(-3), _Ask(4)]
    failures: list[str] = []

    async def ride(ask: _Ask) -> None:
        try:
            await pool.ride(ask)
        except ValueError as exc:
            failures.append(str(exc))

    async with anyio.create_task_group() as group:
        group.start_soon(ride, asks[0])
        await first_running.wait()
        for ask in asks[1:]:
            group.start_soon(ride, ask)
        await anyio.wait_all_tasks_blocked()
        assert pool.waiting == 3
        release.set()
    assert drives == [[1], [2, -3, 4]]
    assert [ask.answer for ask in asks] == [10, 20, None, 40]
    assert failures == ["-3 is negative"]
    assert pool.waiting == 0
