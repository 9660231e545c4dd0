"""A service through a server's life: opened, background work beside the serving, closed; found by readiness."""

from __future__ import annotations

import anyio
import pytest

from servers.kit.service_life import LiveServices, all_ok, ping_all, service_lifespan
from servers.kit.tool_errors import CodedToolError

pytestmark = pytest.mark.anyio


class Service:
    def __init__(self) -> None:
        self.events: list[str] = []
        self.started = anyio.Event()

    async def open(self) -> None:
        self.events.append("open")

    async def close(self) -> None:
        self.events.append("close")

    async def forever(self) -> None:
        self.events.append("background")
        self.started.set()
        try:
            await anyio.sleep_forever()
        finally:
            self.events.append("background stopped")


class Settings:
    """Any settings object: services are found by its identity."""


async def test_the_lifespan_opens_runs_background_work_then_stops_it_and_closes() -> None:
    service = Service()
    lifespan = service_lifespan(service, service.close, background=[service.forever], open_first=service.open)
    async with lifespan(None) as state:
        assert state is service
        await service.started.wait()
        assert service.events == ["open", "background"]
    assert service.events[:2] == ["open", "background"]
    assert sorted(service.events[2:]) == ["background stopped", "close"]


async def test_the_service_is_closed_when_the_serving_fails() -> None:
    service = Service()
    with pytest.raises((RuntimeError, ExceptionGroup)):  # the serving's task group may wrap it
        async with service_lifespan(service, service.close)(None):
            raise RuntimeError("the transport broke")
    assert service.events == ["close"]


async def test_readiness_finds_the_live_service_of_its_settings_and_never_closes_it() -> None:
    live: LiveServices[Service] = LiveServices()
    settings, service = Settings(), Service()
    live.add(settings, service)
    async with live.live_or_fresh(settings, Service, Service.close) as (found, is_live):
        assert found is service and is_live
    assert service.events == []


async def test_settings_that_reuse_a_dead_settings_objects_id_do_not_find_its_service() -> None:
    live: LiveServices[Service] = LiveServices()
    service = Service()  # still alive: a server can outlive the settings object it was built from
    first = Settings()
    live.add(first, service)
    dead_id = id(first)
    del first
    # CPython hands a freed object's memory to the next object of its size: find one with the same id.
    later = [Settings() for _ in range(100)]
    reused = [other for other in later if id(other) == dead_id]
    assert reused, "no new object took the dead one's id, so this test checks nothing"
    async with live.live_or_fresh(reused[0], Service, Service.close) as (found, is_live):
        assert not is_live and found is not service


async def test_without_a_live_service_readiness_makes_one_and_closes_it_after() -> None:
    live: LiveServices[Service] = LiveServices()
    made: list[Service] = []

    def make() -> Service:
        made.append(Service())
        return made[-1]

    async with live.live_or_fresh(Settings(), make, Service.close) as (found, is_live):
        assert not is_live and found is made[0]
    assert made[0].events == ["close"]


async def test_every_backend_is_checked_and_a_failing_or_silent_one_says_why() -> None:
    async def ping(name: str) -> str:
        if name == "down":
            raise CodedToolError("backend_unavailable", "cannot connect")
        if name == "silent":
            await anyio.sleep_forever()
        return f"{name} 1.0"

    checks = await ping_all(["up", "down", "silent"], ping, timeout=0.05)
    assert checks["backend up"] == "ok (up 1.0)"
    assert checks["backend down"] == "unavailable: backend_unavailable: cannot connect"
    assert checks["backend silent"].startswith("no answer within")
    assert not all_ok(checks) and all_ok({"backend up": checks["backend up"]})
