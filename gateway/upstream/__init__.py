"""The upstream side: the instances a call can go to, and the connections that carry it there.

- :mod:`.instances` holds the instances of one server (members: connection, health, breaker, listing);
- :mod:`.mcp_client` is the gateway's MCP client of one instance: the stateless 2026-07-28 wire over
  a pooled connection, or an SDK session (stdio, 2025-11-25 servers);
- :mod:`.http1` is the lean HTTP/1.1 client the stateless wire goes over;
- :mod:`.events` watches instances for list changes and the resource updates clients subscribed to.
"""
