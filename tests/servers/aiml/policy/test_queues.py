"""A provider's queue runs its limit at once, lets a bounded number wait, and refuses the rest."""

from __future__ import annotations

import anyio
import pytest

from servers.aiml.errors import AimlError
from servers.aiml.policy.queues import ProviderQueue

pytestmark = pytest.mark.anyio


async def test_a_full_queue_refuses_with_provider_busy_and_frees_its_slot_after() -> None:
    queue = ProviderQueue("local", max_concurrency=1, queue_limit=1)
    holding = anyio.Event()
    release = anyio.Event()
    waited = anyio.Event()

    async def hold() -> None:
        async with queue.slot():
            holding.set()
            await release.wait()

    async def wait_in_line() -> None:
        async with queue.slot():
            waited.set()

    async with anyio.create_task_group() as group:
        group.start_soon(hold)
        await holding.wait()
        group.start_soon(wait_in_line)
        with anyio.fail_after(5):
            while queue.waiting == 0:
                await anyio.lowlevel.checkpoint()
        with pytest.raises(AimlError) as caught:
            async with queue.slot():
                pass
        assert caught.value.code == "provider_busy"
        release.set()
        with anyio.fail_after(5):
            await waited.wait()
    assert queue.running == 0 and queue.waiting == 0
