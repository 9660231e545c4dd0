"""The SDK internals the runtime reaches are where it expects them, or it says clearly that they moved."""

from __future__ import annotations

from typing import Any

import pytest
from mcp.server import MCPServer
from mcp.server.subscriptions import InMemorySubscriptionBus

from servers.runtime.sdk_seams import bus_of, connection_of, lowlevel_of


def test_an_mcp_server_has_the_low_level_server_and_bus_the_runtime_uses() -> None:
    server: MCPServer[Any] = MCPServer("seams")
    assert lowlevel_of(server).get_request_handler("tools/list") is not None
    assert isinstance(bus_of(server), InMemorySubscriptionBus)


def test_a_moved_internal_is_reported_naming_the_module_to_update() -> None:
    class NotASession:
        pass

    with pytest.raises(RuntimeError, match=r"sdk_seams\.py"):
        connection_of(NotASession())  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match=r"sdk_seams\.py"):
        bus_of(object())  # type: ignore[arg-type]
