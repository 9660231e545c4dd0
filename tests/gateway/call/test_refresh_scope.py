"""A refresh for the servers that announced a change re-lists only their instances; the rest keep their listing."""

from __future__ import annotations

import anyio
import pytest

from gateway.call.service import Gateway
from gateway.settings import GatewaySettings
from mesh.config import StaticInstance
from mesh.registry import StaticRegistry
from tests.support.upstreams import HttpUpstream, Replica, demo_server

pytestmark = pytest.mark.anyio


async def test_a_refresh_of_one_server_re_lists_its_instances_and_leaves_the_others_listing() -> None:
    one, two = HttpUpstream(demo_server(Replica("one"))), HttpUpstream(demo_server(Replica("two")))
    async with anyio.create_task_group() as tg:
        await one.start(tg)
        await two.start(tg)
        registry = StaticRegistry({"one": (StaticInstance(url=one.url),), "two": (StaticInstance(url=two.url),)})
        gateway = Gateway(GatewaySettings(), registry)
        try:
            async with gateway.running():
                first = next(iter(gateway.pools["one"].members.values()))
                second = next(iter(gateway.pools["two"].members.values()))
                first_listing, second_listing = first.listing, second.listing
                assert first_listing is not None and second_listing is not None

                await gateway.refresh(only={"one"})
                assert first.listing is not first_listing, "the server in `only` was not listed again"
                assert second.listing is second_listing, "a server outside `only` was listed again"

                await gateway.refresh()
                assert second.listing is not second_listing, "a full refresh lists every server"
        finally:
            await one.stop()
            await two.stop()
