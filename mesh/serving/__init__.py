"""Serving HTTP, as every process of the suite does it: servers and the gateway alike.

- :mod:`.listen` binds the listening socket (before anything registers, so port 0 is known) and runs an
  ASGI app on it with uvicorn until SIGTERM/SIGINT, draining within the grace period;
- :mod:`.keep_alive` names the idle lifetimes of keep-alive connections on both sides;
- :mod:`.transport_security` is the SDK's DNS-rebinding protection for loopback binds.
"""
