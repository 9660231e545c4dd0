"""The gateway's state: which instances exist, which serve, what the catalog holds, who to tell.

:class:`Gateway` follows the registry (static or Consul), opens a connection to every instance,
lists what each offers (the listing doubles as a health check, every ``refresh_interval_seconds``),
admits replicas whose tool schemas match their pool, and rebuilds the catalog whenever membership,
health, a breaker or an upstream listing changes. When the catalog changes, every listener (the
MCP endpoints, which tell their clients ``notifications/*/list_changed``) hears about it.
"""

from __future__ import annotations

import json
import logging
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any, Literal

import anyio
import anyio.abc
import httpx
from mcp.types import METHOD_NOT_FOUND

from gateway.call.catalog import ALL, Catalog, View, build_catalog
from gateway.call.policies import (
    GATEWAY_SERVER,
    EffectivePolicy,
    describe_supervisors,
    resolve_policy,
    supervisor_of_server,
)
from gateway.call.router import CallOptions, GatewayError, Router, call_timeout, caller_priority
from gateway.settings import GatewaySettings
from gateway.upstream.events import UpstreamEvents, supports_resource_subscriptions
from gateway.upstream.http1 import Http1Pool
from gateway.upstream.instances import Listing, Member, ServerPool
from gateway.upstream.mcp_client import (
    META_SERVER_INFO,
    Notify,
    Upstream,
    UpstreamError,
    UpstreamUnavailable,
    connect_upstream,
    shared_http_client,
)
from mesh.balancer import make_balancer
from mesh.discovery import registry_running, registry_status
from mesh.registry import Registry, ServiceInstance
from mesh.resilience import is_retry_safe

log = logging.getLogger("mcp_suite.gateway")

GATEWAY_INFO = {"name": "mcp-suite-gateway", "version": "0.1.0"}
ChangeListener = Callable[[Catalog, Catalog], Awaitable[None]]

_LIST_METHODS: tuple[tuple[str, str, str], ...] = (
    ("tools", "tools/list", "tools"),
    ("resources", "resources/list", "resources"),
    ("resources", "resources/templates/list", "resourceTemplates"),
    ("prompts", "prompts/list", "prompts"),
)


class Gateway:
    """Pools, catalog and router for every upstream server the registry names."""

    def __init__(self, settings: GatewaySettings, registry: Registry) -> None:
        self.settings = settings
        self.registry = registry
        self.pools: dict[str, ServerPool] = {}
        self.router = Router()
        self.catalog = Catalog(settings=settings)
        self.started_at = time.monotonic()
        self.upstream_headers: dict[str, str] = {}  # sent on every upstream request (auth.upstream_secret)
        self.upstream_ssl: ssl.SSLContext | None = None  # how https:// upstreams are dialled (auth.upstream_tls)
        self._listeners: list[ChangeListener] = []
        self._http: httpx.AsyncClient | None = None
        self._calls: Http1Pool | None = None
        self._tg: anyio.abc.TaskGroup | None = None
        self._dirty = anyio.Event()
        self._membership = anyio.Event()
        self._refresh_lock = anyio.Lock()
        self._policies: dict[tuple[str | None, str, str | None], EffectivePolicy] = {}
        self._relist: set[str] | None = set()
        """The servers the next refresh re-lists (their lists changed, or a breaker moved); None: all."""
        self.events = UpstreamEvents(on_list_changed=self._mark)
        # Where the settings in force come from, for gateway_status: the live-config follower replaces it.
        self.config_source: Callable[[], dict[str, Any]] = lambda: {"source": "file", "degraded": False}

    # ---- lifecycle -----------------------------------------------------------------------
    @asynccontextmanager
    async def running(self) -> AsyncIterator[Gateway]:
        """Connect to every instance, keep refreshing until the block exits, then close all."""
        async with (
            shared_http_client(headers=self.upstream_headers, ssl_context=self.upstream_ssl) as http,
            shared_http_client(
                max_connections=None, headers=self.upstream_headers, ssl_context=self.upstream_ssl
            ) as listen_http,
            registry_running(self.registry),
            anyio.create_task_group() as tg,
        ):
            self._http = http
            self._calls = Http1Pool(headers=self.upstream_headers, ssl_context=self.upstream_ssl)
            self._tg = tg
            self.events.start(tg, listen_http)  # one long-lived stream per instance: not from the calls' pool
            self.registry.subscribe(lambda _server: self._membership.set())
            await self.refresh()
            tg.start_soon(self._refresh_loop)
            tg.start_soon(self._membership_loop)
            try:
                yield self
            finally:
                tg.cancel_scope.cancel()
                self.events.close()
                with anyio.CancelScope(shield=True):
                    for pool in self.pools.values():
                        for member in pool.members.values():
                            if member.upstream is not None:
                                await member.upstream.aclose()
                    await self._calls.aclose()
                self._http = None
                self._calls = None

    def _mark(self, server: str | None) -> None:
        """Have the refresh loop re-list ``server`` soon (None: every server)."""
        if server is None:
            self._relist = None
        elif self._relist is not None:
            self._relist.add(server)
        self._dirty.set()

    async def _refresh_loop(self) -> None:
        # The periodic refresh re-lists everyone; a change one server announced re-lists only that
        # server's instances, so its clients hear of the change without waiting on all the others.
        while True:
            with anyio.move_on_after(self.settings.refresh_interval_seconds) as waited:
                await self._dirty.wait()
            self._dirty = anyio.Event()
            only = None if waited.cancelled_caught else (self._relist or None)
            self._relist = set()
            try:
                await self.refresh(only=only)
            except Exception:
                log.exception("refresh failed")

    async def _membership_loop(self) -> None:
        # A registry change connects and lists only the new instances: with hundreds of members a
        # full re-list per change would be slow; the periodic refresh still re-lists everyone.
        while True:
            await self._membership.wait()
            self._membership = anyio.Event()
            try:
                await self.refresh(probe="new")
            except Exception:
                log.exception("membership refresh failed")

    def subscribe(self, listener: ChangeListener) -> None:
        self._listeners.append(listener)

    # ---- membership, health, listings ----------------------------------------------------
    def _pool(self, server: str) -> ServerPool:
        pool = self.pools.get(server)
        if pool is None:
            group = self.settings.servers.get(server)
            policy = resolve_policy(
                self.settings, supervisor=supervisor_of_server(self.settings, server), server=server
            )
            pool = ServerPool(
                server,
                strategy=group.strategy if group else "round_robin",
                hash_argument=group.hash_argument if group else None,
                breaker_policy=policy.breaker,
                on_breaker_change=self._on_breaker_change,
            )
            self.pools[server] = pool
        return pool

    def _on_breaker_change(self, server: str) -> None:
        self._mark(server)
        if self._tg is not None:
            self._tg.start_soon(self.rebuild)

    async def refresh(self, probe: Literal["all", "new"] = "all", only: set[str] | None = None) -> None:
        """Follow the registry, (re)connect, re-list every instance (or only new ones, or only those of the
        servers in ``only``), rebuild the catalog."""
        async with self._refresh_lock:
            wanted: dict[str, dict[str, ServiceInstance]] = {
                server: {i.instance_id: i for i in self.registry.instances(server)}
                for server in self.registry.servers()
            }
            for server, pool in list(self.pools.items()):
                for instance_id in list(pool.members):
                    if instance_id not in wanted.get(server, {}):
                        member = pool.remove(instance_id)
                        self.events.detach(instance_id)
                        if member is not None and member.upstream is not None:
                            await self._retire(member)
                        log.info("instance left", extra={"instance": instance_id})
            for server, instances in wanted.items():
                pool = self._pool(server)
                for instance in instances.values():
                    pool.add(instance)
            async with anyio.create_task_group() as tg:
                for pool in self.pools.values():
                    for member in pool.members.values():
                        if only is not None and pool.server not in only and member.listing is not None:
                            continue
                        if probe == "all" or member.listing is None or not member.healthy:
                            tg.start_soon(self._probe, pool, member)
            for pool in self.pools.values():
                pool.admit_all()
            await self.rebuild()

    async def _probe(self, pool: ServerPool, member: Member) -> None:
        assert self._http is not None and self._calls is not None and self._tg is not None
        timeout = self.settings.connect_timeout_seconds
        try:
            if member.upstream is None:
                # A stdio child is a process to start (imports, a model to load): it gets its own, longer bound.
                start = self.settings.stdio_start_timeout_seconds if member.instance.command is not None else timeout
                member.upstream = await connect_upstream(
                    member.instance, self._http, self._tg, timeout=start, calls=self._calls
                )
                self.events.attach(pool.server, member.upstream)
                await self.events.listening(member.instance_id, timeout)  # listen first, then list
                log.info(
                    "instance connected",
                    extra={"instance": member.instance_id, "protocol": member.upstream.protocol_version},
                )
            member.listing = await self._list(member, timeout)
        except (UpstreamUnavailable, UpstreamError) as exc:
            member.probe_failures += 1
            failures, limit = member.probe_failures, self.settings.unhealthy_after_failures
            if member.healthy and failures < limit:
                # One failed probe is not an outage: the instance keeps serving (its breaker still
                # guards calls) until `unhealthy_after_failures` probes in a row have failed.
                log.info(
                    "probe failed",
                    extra={"instance": member.instance_id, "reason": str(exc), "failures": failures, "limit": limit},
                )
                member.last_error = str(exc)
                return
            if member.healthy:
                log.warning(
                    "instance unhealthy",
                    extra={"instance": member.instance_id, "reason": str(exc), "failures": failures},
                )
            member.healthy = False
            member.last_error = str(exc)
            if member.upstream is not None and member.upstream.protocol_version != "2026-07-28":
                self.events.detach(member.instance_id)
                await member.upstream.aclose()  # a broken session is reopened on the next refresh
                member.upstream = None
            return
        if not member.healthy:
            log.info("instance healthy", extra={"instance": member.instance_id})
        member.healthy = True
        member.probe_failures = 0
        member.last_seen = time.monotonic()
        member.last_error = None

    async def _list(self, member: Member, timeout: float) -> Listing:
        upstream = member.upstream
        assert upstream is not None
        listing = Listing()
        buckets: dict[str, list[dict[str, Any]]] = {
            "tools": listing.tools,
            "resources": listing.resources,
            "resourceTemplates": listing.templates,
            "prompts": listing.prompts,
        }
        for capability, method, key in _LIST_METHODS:
            if capability not in upstream.capabilities:
                continue
            cursor: str | None = None
            for _page in range(100):
                params = {"cursor": cursor} if cursor else {}
                try:
                    result = await upstream.request(method, params, timeout=timeout)
                except UpstreamError as exc:
                    if exc.code != METHOD_NOT_FOUND:
                        raise
                    break  # e.g. resources without templates: an empty list, not a broken server
                buckets[key].extend(result.get(key) or [])
                cursor = result.get("nextCursor")
                if not cursor:
                    break
        return listing

    async def rebuild(self) -> None:
        """Recompute the catalog from the serving pools; tell the listeners if it changed."""
        listings: dict[str, Listing] = {}
        for server, pool in self.pools.items():
            reference = pool.reference()
            if reference is not None and reference.listing is not None:
                listings[server] = reference.listing
        catalog = build_catalog(listings, GATEWAY_TOOLS, self.settings)
        previous, self.catalog = self.catalog, catalog
        for problem in catalog.problems:
            if problem not in previous.problems:
                log.warning("catalog problem", extra={"problem": problem})
        if catalog.fingerprint != previous.fingerprint:
            log.info("catalog changed", extra={"tools": len(catalog.tools), "servers": sorted(listings)})
            for listener in list(self._listeners):
                try:
                    await listener(previous, catalog)
                except Exception:
                    log.exception("a list-changed listener failed")

    async def _retire(self, member: Member) -> None:
        """Close a leaving instance's connection, after its calls in flight finish (a drain)."""
        upstream = member.upstream
        if upstream is None:
            return
        if member.inflight == 0 or self._tg is None:
            await upstream.aclose()
            return
        log.info("instance draining", extra={"instance": member.instance_id, "inflight": member.inflight})
        self._tg.start_soon(self._drain, member, upstream)

    async def _drain(self, member: Member, upstream: Upstream) -> None:
        # The member is out of its pool, so no new call picks it; the ones in flight hold the upstream.
        with anyio.move_on_after(self.settings.policy.timeout_seconds or 60.0):
            while member.inflight > 0:  # noqa: ASYNC110 - a Member has no completion event (gateway/upstream/pool.py)
                await anyio.sleep(0.05)
        with anyio.CancelScope(shield=True):
            await upstream.aclose()
        log.info("instance drained", extra={"instance": member.instance_id, "inflight": member.inflight})

    async def apply_settings(self, settings: GatewaySettings) -> None:
        """Apply new settings without a restart: policies, server groups, supervisors, intervals.

        Pools keep their members, connections, breakers and calls in flight; a pool whose strategy
        changed gets a fresh balancer. Breaker thresholds apply to breakers made after the change.
        """
        self.settings = settings
        self._policies.clear()
        for server, pool in self.pools.items():
            group = settings.servers.get(server)
            strategy = group.strategy if group else "round_robin"
            if strategy != pool.strategy:
                pool.strategy = strategy
                pool.balancer = make_balancer(strategy, pool=server)
            pool.hash_argument = group.hash_argument if group else None
        await self.rebuild()
        self._mark(None)

    # ---- forwarding ----------------------------------------------------------------------
    def policy_for(self, view: View, server: str, tool: str | None) -> EffectivePolicy:
        """The resolved policy of a call; settings are frozen, so each answer is computed once."""
        key = (view.supervisor, server, tool)
        policy = self._policies.get(key)
        if policy is None:
            supervisor = view.supervisor or supervisor_of_server(self.settings, server)
            policy = self._policies[key] = resolve_policy(
                self.settings, supervisor=supervisor, server=server, tool=tool
            )
        return policy

    async def call_tool(
        self,
        view: View,
        name: str,
        params: Mapping[str, Any],
        *,
        notify: Notify | None = None,
        client_capabilities: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        entry = self.catalog.tool(view, name)
        if entry is None:
            raise UnknownName("tool", name, view)
        if entry.server == GATEWAY_SERVER:
            return tool_result(self.gateway_tool(entry.name, params.get("arguments") or {}))
        policy = self.policy_for(view, entry.server, entry.name)
        pool = self.pools[entry.server]
        arguments = params.get("arguments") or {}
        hash_key = None
        if pool.hash_argument is not None and pool.hash_argument in arguments:
            hash_key = str(arguments[pool.hash_argument])
        meta = params.get("_meta")
        forwarded = {**params, "name": entry.name}
        options = CallOptions(
            policy=policy,
            retry_safe=is_retry_safe(entry.annotations),
            hash_key=hash_key,
            notify=notify,
            client_capabilities=client_capabilities,
        )
        result = await self.router.forward(
            pool,
            "tools/call",
            forwarded,
            options,
            priority=caller_priority(meta, policy.priority),
            timeout=call_timeout(meta, policy.timeout_seconds),
        )
        # An error's text names the server's tools by the server's names; the client knows them by the view's.
        return tool_result(stamp_server_info(self.catalog.tool_names(view, entry.server).error_result(result)))

    async def forward_to_server(
        self,
        view: View,
        server: str,
        method: str,
        params: Mapping[str, Any],
        *,
        notify: Notify | None = None,
        client_capabilities: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Forward a read-only request (resources/read, prompts/get, completion) to a serving instance."""
        pool = self.pools.get(server)
        if pool is None:
            raise GatewayError(-32602, f"unknown server {server!r}")
        policy = self.policy_for(view, server, None)
        meta = params.get("_meta")
        options = CallOptions(policy=policy, retry_safe=True, notify=notify, client_capabilities=client_capabilities)
        result = await self.router.forward(
            pool,
            method,
            params,
            options,
            priority=caller_priority(meta, policy.priority),
            timeout=call_timeout(meta, policy.timeout_seconds),
        )
        if method == "prompts/get":  # a prompt tells the model which tools to call: by the names it can call
            result = self.catalog.tool_names(view, server).prompt_result(result)
        return stamp_server_info(result)

    def subscribable(self, server: str | None = None) -> bool:
        """Whether some connected instance (of ``server``, or of any server) supports resource subscriptions."""
        pools = [self.pools[server]] if server in self.pools else [] if server else list(self.pools.values())
        return any(
            member.upstream is not None and supports_resource_subscriptions(member.upstream)
            for pool in pools
            for member in pool.members.values()
        )

    # ---- the gateway's own tools ---------------------------------------------------------
    def status(self) -> dict[str, Any]:
        return {
            "gateway": GATEWAY_INFO,
            "uptime_seconds": round(time.monotonic() - self.started_at, 3),
            "registry": registry_status(self.registry),
            "config": self.config_source(),
            "servers": [pool.status() for pool in self.pools.values()],
            "bulkheads": self.router.bulkheads(),
            "catalog": {
                "tools": len(self.catalog.tools),
                "prompts": len(self.catalog.prompts),
                "resources": len(self.catalog.resources),
                "templates": len(self.catalog.templates),
                "problems": list(self.catalog.problems),
            },
        }

    def capabilities(self) -> dict[str, Any]:
        names = self.catalog.names_by_server()
        return {
            "servers": [
                {
                    "name": server,
                    "available": pool.available(),
                    "instances": len(pool.members),
                    "serving": len(pool.serving()),
                    "tools": len(names.get(server, [])),
                    "endpoint": f"/servers/{server}/mcp",
                }
                for server, pool in self.pools.items()
            ],
            "supervisors": describe_supervisors(self.settings, names),
            "tools": len(self.catalog.tools),
        }

    def gateway_tool(self, name: str, arguments: Mapping[str, Any]) -> dict[str, Any]:
        if name == "gateway_status":
            body = self.status()
        elif name == "gateway_capabilities":
            body = self.capabilities()
        else:  # pragma: no cover - the catalog only lists the two
            raise UnknownName("tool", name, ALL)
        return {"content": [{"type": "text", "text": json.dumps(body, indent=1)}], "structuredContent": body}


class UnknownName(GatewayError):
    def __init__(self, kind: str, name: str, view: View) -> None:
        where = "" if view.kind == "all" else f" on {view.label()}"
        super().__init__(
            -32602,
            f"unknown {kind} {name!r}{where}: it is not offered or its server is unavailable; list {kind}s again",
        )


def tool_result(result: dict[str, Any]) -> dict[str, Any]:
    """A ``tools/call`` result with every field the 2026-07-28 schema requires, whichever door answers it.

    The SDK endpoint validates a result into its model (which fills the defaults) before its own
    per-version serializer writes it; the fast lane writes the dict as it is. So both take it from
    here: ``resultType`` (absent from a 2025-11-25 upstream's answer and from the gateway's own tools)
    is ``complete``, and a complete result has its ``content`` list. A 2025-11-25 client's serializer
    drops ``resultType`` again.
    """
    if "resultType" not in result:
        result["resultType"] = "complete"
    if result["resultType"] == "complete" and "content" not in result:
        result["content"] = []
    return result


def stamp_server_info(result: dict[str, Any]) -> dict[str, Any]:
    """Replace the upstream's serverInfo in ``_meta`` with the gateway's."""
    meta = result.get("_meta")
    if isinstance(meta, dict) and META_SERVER_INFO in meta:
        result["_meta"] = {**meta, META_SERVER_INFO: GATEWAY_INFO}
    return result


_STATUS_SCHEMA: dict[str, Any] = {"type": "object", "additionalProperties": True}
GATEWAY_TOOLS: tuple[dict[str, Any], ...] = (
    {
        "name": "gateway_status",
        "description": "Instances of every server with health, breaker state, in-flight calls, and bulkhead queues.",
        "inputSchema": {"type": "object", "properties": {}, "additionalProperties": False},
        "outputSchema": _STATUS_SCHEMA,
        "annotations": {"readOnlyHint": True, "idempotentHint": True, "openWorldHint": False},
    },
    {
        "name": "gateway_capabilities",
        "description": "Servers and supervisors behind this gateway, with tool counts and endpoints.",
        "inputSchema": {"type": "object", "properties": {}, "additionalProperties": False},
        "outputSchema": _STATUS_SCHEMA,
        "annotations": {"readOnlyHint": True, "idempotentHint": True, "openWorldHint": False},
    },
)
