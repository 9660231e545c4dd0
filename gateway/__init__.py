"""The top floor: the gateway. Reaches servers over MCP only; starts none (that is :mod:`suite`'s).

Laid out by the path of a call: :mod:`.door` (how a request gets in and out), :mod:`.call` (what the
gateway decides about it), :mod:`.upstream` (where it goes). One ``tools/call`` of
``filesystem_read_text_file``, posted to ``/mcp`` on the stateless 2026-07-28 wire, step by step:

1. ``door/transports.py`` runs the gateway: :func:`~gateway.door.transports.serve_gateway_http` serves the
   app of ``door/http_app.py`` on a socket bound by :mod:`mesh.serving` (``serve_gateway_stdio`` is the
   other door: one client over stdin/stdout, straight to step 4's endpoint).
2. ``door/http_security.py``: :class:`~gateway.door.http_security.GatewaySecurityMiddleware` checks
   Host and Origin, authenticates the caller (JWT or API key) and puts its principal in the ASGI scope,
   and refuses a body too large or nested too deep.
3. ``door/fast_lane.py``: the request is one stateless ``tools/call`` asking for no progress, so
   :class:`~gateway.door.fast_lane.FastToolCallMiddleware` parses it once and takes it on without the
   SDK. Anything else (a session, progress, another method) goes on to
4. ``door/mcp_endpoint.py``, the SDK's low-level server over one catalog view, which relays progress
   and log notifications, subscriptions and list changes, and, through ``door/input_bridge.py``, an
   upstream's input requests to a 2025-11-25 client. ``door/rest.py`` (``POST /mcp/v1/tools/call``,
   described by ``door/openapi.py``) is the third way to step 5.
5. ``call/guard.py``: :meth:`CallGuard.call_tool <gateway.call.guard.CallGuard.call_tool>` looks the
   name up, checks the principal's roles, takes from its rate limits, validates the arguments against
   the tool's schema, and writes the audit line when the call ends, whichever door it came through.
6. ``call/service.py``: :meth:`Gateway.call_tool <gateway.call.service.Gateway.call_tool>` resolves
   ``filesystem_read_text_file`` in the catalog of ``call/catalog.py`` to server ``filesystem``, tool
   ``read_text_file``; takes the call's policy from ``call/policies.py`` (gateway, supervisor, server,
   tool: the nearest level that sets a field wins) and the ``filesystem`` pool; decides from the
   tool's annotations whether it may be retried.
7. ``call/router.py``: :meth:`Router.forward <gateway.call.router.Router.forward>` waits for a slot in
   the policy's bulkhead (priority order, under the call's deadline), picks a serving member of the
   pool with its balancer, skipping open breakers, and retries on another member only a call that is
   safe to repeat. ``call/live_config.py`` may have replaced the policies from Consul KV meanwhile.
8. ``upstream/instances.py``: the :class:`~gateway.upstream.instances.Member` picked is connected, healthy,
   admitted and its breaker closed; its upstream carries the call.
9. ``upstream/mcp_client.py``: :class:`~gateway.upstream.mcp_client.ModernHttpUpstream` builds the
   request (protocol version, client capabilities and trace context in ``_meta``, the ``mcp-*``
   headers) and turns a transport failure into ``UpstreamUnavailable`` (it counts against the
   member's breaker) and a JSON-RPC error into ``UpstreamError`` (the caller's answer). A tool that
   asks its client mid-call, which this wire refuses, is run again over a session of its own for a
   2025-11-25 client (``upstream/back_channel.py``).
10. ``upstream/http1.py``: :class:`~gateway.upstream.http1.Http1Pool` sends it as one write over a
    kept-alive connection and parses the answer (a JSON body, or an event stream whose notifications
    go back to the caller first). A read-only or idempotent call whose reused connection the server
    closed before answering is sent once more on a fresh one; a destructive call is not.

The answer climbs back: the router counts it (``mcp_gateway_calls_total``, read by
``door/metrics_endpoint.py`` at ``GET /metrics``), the service stamps the gateway's server info, the
guard audits it, the fast lane writes one JSON body. ``upstream/events.py`` works beside the path:
it watches each instance for list changes (so the catalog is rebuilt at once) and for the resource
updates clients subscribed to.
"""
