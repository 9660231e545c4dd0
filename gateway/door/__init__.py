"""The door: how a request gets into the gateway, and how its answer gets out.

- :mod:`.transports` runs the gateway over streamable HTTP (the app on a bound socket) or stdio;
- :mod:`.http_app` assembles the Starlette app: the MCP endpoints, REST, ``/metrics``, the lifespan;
- :mod:`.http_security` is the first thing every HTTP request meets: Host/Origin, authentication,
  body size and JSON depth;
- :mod:`.fast_lane` answers a stateless 2026-07-28 ``tools/call`` without the SDK's server machinery;
- :mod:`.mcp_endpoint` is the SDK endpoint for everything else (sessions, progress, lists, events),
  with :mod:`.input_bridge` relaying an upstream's input requests to a 2025-11-25 client;
- :mod:`.rest` and :mod:`.openapi` are the REST face and its document;
- :mod:`.metrics_endpoint` is ``GET /metrics``.
"""
