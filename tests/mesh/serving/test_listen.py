"""A socket bound before serving: its port is known at once, and a busy port says which address failed."""

from __future__ import annotations

import socket

import pytest
from starlette.applications import Starlette

from mesh.config import Settings
from mesh.serving.keep_alive import CLIENT_IDLE_LIMIT_SECONDS, SERVER_KEEP_ALIVE_SECONDS
from mesh.serving.listen import bind_socket, uvicorn_config


def test_port_zero_binds_a_free_port_known_before_serving() -> None:
    sock = bind_socket("127.0.0.1", 0)
    try:
        host, port = sock.getsockname()
        assert host == "127.0.0.1" and port > 0
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        assert sock.get_inheritable()
    finally:
        sock.close()


def test_a_busy_port_names_the_address_it_could_not_listen_on() -> None:
    taken = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        with pytest.raises(OSError, match=f"cannot listen on 127.0.0.1:{port}"):
            bind_socket("127.0.0.1", port)
    finally:
        taken.close()


def test_servers_keep_idle_connections_longer_than_the_gateways_pool_reuses_them() -> None:
    config = uvicorn_config(Starlette(), Settings())
    assert config.timeout_keep_alive == SERVER_KEEP_ALIVE_SECONDS > CLIENT_IDLE_LIMIT_SECONDS
