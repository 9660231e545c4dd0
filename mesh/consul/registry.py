"""The Consul registry: the Registry protocol over Consul's catalog.

A gateway follows ``/v1/health/service/<prefix><server>?passing`` for every server it knows
with blocking queries, and answers ``instances()`` from what it last saw. When Consul cannot be
reached it keeps that last catalog, retries with jittered back-off and reports itself
*degraded* (``degraded_reason``) until a query succeeds again. A server process calls
``register`` once it listens and ``deregister`` on its way out: agent API writes, made from a
worker thread so the event loop never waits on Consul.

With ACLs (``default_policy = deny``) a token without ``service:read`` on a watched service gets
its answers *filtered*, not refused: 200, fewer or no entries, ``X-Consul-Results-Filtered-By-ACLs``.
Such an answer never replaces the catalog (the instances are unreadable, not gone): the registry
keeps the last catalog and is degraded with the rule the token lacks, until an answer is whole.

A registered instance is kept registered: every check interval a keeper thread reads
``/v1/agent/service/<id>``; a 404 (an agent restarted without its state, a reaped registration)
registers it again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote

import anyio

from mesh.config import Settings
from mesh.consul.http import (
    ConsulEndpoint,
    ConsulHttp,
    ConsulRefused,
    ConsulResponse,
    ConsulUnavailable,
    filtered_reason,
)
from mesh.consul.registration import instance_from_entry, registration_body, service_name
from mesh.consul.watch import Backoff, watch_blocking
from mesh.registry import Listener, ServiceInstance

log = logging.getLogger("mcp_suite.consul")


class ConsulRegistry:
    """Instances from Consul's health-filtered catalog; registrations through the local agent."""

    kind = "consul"

    def __init__(
        self,
        settings: Settings,
        *,
        servers: Iterable[str] = (),
        http: ConsulHttp | None = None,
        backoff_cap_seconds: float = 15.0,
        register_attempts: int = 5,
        keep_interval_seconds: float | None = None,
    ) -> None:
        self.settings = settings
        self.consul = settings.registry.consul
        self.endpoint = http.endpoint if http is not None else ConsulEndpoint.from_settings(self.consul)
        self.http = http or ConsulHttp(self.endpoint)
        self.watched: tuple[str, ...] = tuple(sorted(set(servers)))
        self._backoff_cap = backoff_cap_seconds
        self._register_attempts = max(1, register_attempts)
        self._keep_interval = keep_interval_seconds or max(1.0, self.consul.check_interval_seconds)
        self._keepers: dict[str, threading.Event] = {}
        self.reregistrations = 0  # registrations found gone and made again (for tests and the status page)
        self._lock = threading.Lock()
        self._catalog: dict[str, dict[str, ServiceInstance]] = {}
        self._listeners: list[Listener] = []
        self._failing: dict[str, tuple[float, str]] = {}
        self._answered: set[str] = set()
        self._synced = anyio.Event()
        self.updates = 0  # catalog changes applied (for the status page and the bench)

    # ---- the Registry protocol -------------------------------------------------------------
    def instances(self, server: str) -> list[ServiceInstance]:
        with self._lock:
            return list(self._catalog.get(server, {}).values())

    def servers(self) -> list[str]:
        with self._lock:
            return sorted(name for name, found in self._catalog.items() if found)

    def subscribe(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def register(self, instance: ServiceInstance) -> None:
        """Register ``instance`` with the agent (blocking: call it off the event loop); raises when Consul stays away.

        Once registered, a keeper thread registers it again whenever the agent has lost it.
        """
        body = registration_body(instance, self.settings)
        self._put_registration(body)
        stop = threading.Event()
        with self._lock:
            previous = self._keepers.get(body["ID"])
            self._keepers[body["ID"]] = stop
        if previous is not None:
            previous.set()
        threading.Thread(
            target=self._keep_registered, args=(body, stop), name=f"consul-keep-{body['ID']}", daemon=True
        ).start()

    def _put_registration(self, body: dict[str, Any]) -> None:
        backoff = Backoff(cap_seconds=min(self._backoff_cap, 5.0))
        for attempt in range(1, self._register_attempts + 1):
            try:
                self.http.request_sync(
                    "PUT", "/v1/agent/service/register", params={"replace-existing-checks": "true"}, json_body=body
                )
            except ConsulUnavailable as exc:
                if attempt == self._register_attempts:
                    raise
                log.warning("consul registration failed; retrying", extra={"service": body["ID"], "reason": str(exc)})
                time.sleep(backoff.next())
                continue
            log.info(
                "registered with consul",
                extra={"service": body["Name"], "id": body["ID"], "check": body["Check"]["HTTP"]},
            )
            return

    def _keep_registered(self, body: dict[str, Any], stop: threading.Event) -> None:
        """Until ``stop``: read the registration every interval; register again when the agent answers 404."""
        path = "/v1/agent/service/" + quote(str(body["ID"]), safe="")
        while not stop.wait(self._keep_interval):
            try:
                if self.http.request_sync("GET", path, allow=(404,)).status != 404 or stop.is_set():
                    continue
                log.warning(
                    "consul registration gone (agent restarted without its state, or reaped); registering again",
                    extra={"id": body["ID"]},
                )
                self._put_registration(body)
                self.reregistrations += 1
            except (ConsulUnavailable, ConsulRefused) as exc:  # the agent is away or restarting: try next time
                log.debug("consul registration check failed", extra={"id": body["ID"], "reason": str(exc)})

    def stop_keeping(self) -> None:
        """Stop every keeper thread without deregistering (a process leaving its registrations to the reaper)."""
        with self._lock:
            keepers, self._keepers = list(self._keepers.values()), {}
        for keeper in keepers:
            keeper.set()

    def deregister(self, instance: ServiceInstance) -> None:
        """Remove ``instance`` from the agent; a failure is logged (Consul reaps it after the critical period)."""
        try:
            body = registration_body(instance, self.settings)
            with self._lock:
                keeper = self._keepers.pop(body["ID"], None)
            if keeper is not None:
                keeper.set()
            self.http.request_sync("PUT", f"/v1/agent/service/deregister/{body['ID']}", allow=(404,))
        except (ConsulUnavailable, ConsulRefused, ValueError) as exc:
            log.warning("consul deregistration failed", extra={"instance": instance.instance_id, "reason": str(exc)})
            return
        log.info("deregistered from consul", extra={"id": body["ID"]})

    # ---- health of the registry itself -------------------------------------------------------
    @property
    def degraded_reason(self) -> str | None:
        """Why the catalog may be stale (Consul unreachable, refusing or filtering by ACLs), or None when current."""
        with self._lock:
            failing = dict(self._failing)
            known = sum(len(found) for found in self._catalog.values())
        if not failing:
            return None
        since, reason = min(failing.values())
        return (
            f"Consul at {self.endpoint.base_url} failing for {time.monotonic() - since:.1f}s "
            f"({len(failing)}/{len(self.watched)} watches): {reason}; serving the last known catalog ({known} instances)"
        )

    def status(self) -> dict[str, Any]:
        reason = self.degraded_reason
        return {
            "kind": self.kind,
            "address": self.endpoint.base_url,
            "degraded": reason is not None,
            "reason": reason,
            "watched": list(self.watched),
            "updates": self.updates,
            "reregistrations": self.reregistrations,
        }

    # ---- following the catalog ---------------------------------------------------------------
    @asynccontextmanager
    async def running(self, *, first_sync_timeout: float = 5.0) -> AsyncIterator[ConsulRegistry]:
        """Watch every server until the block exits; the block starts once each watch has answered once (or failed)."""
        try:
            async with anyio.create_task_group() as tg:
                for server in self.watched:
                    tg.start_soon(self._watch, server)
                with anyio.move_on_after(first_sync_timeout):
                    await self._synced.wait()
                try:
                    yield self
                finally:
                    tg.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                await self.http.aclose()

    async def _watch(self, server: str) -> None:
        name = service_name(self.consul.service_prefix, server)

        async def on_result(response: ConsulResponse) -> None:
            if response.filtered:  # unreadable is not gone: keep the last catalog, say why
                self._fail(server, filtered_reason(name, "service:read (or node:read on its nodes)"))
                return
            self._apply(server, response.json() or [])

        def on_error(reason: str) -> None:
            self._fail(server, reason)

        await watch_blocking(
            self.http,
            f"/v1/health/service/{name}",
            {"passing": "1"},
            wait_seconds=self.consul.watch_wait_seconds,
            on_result=on_result,
            on_error=on_error,
            backoff=Backoff(cap_seconds=self._backoff_cap),
        )

    def _answered_once(self, server: str) -> None:
        self._answered.add(server)
        if len(self._answered) >= len(self.watched):
            self._synced.set()

    def _fail(self, server: str, reason: str) -> None:
        with self._lock:
            first = server not in self._failing
            since = self._failing[server][0] if not first else time.monotonic()
            self._failing[server] = (since, reason)
        if first:
            log.warning(
                "consul watch failing; keeping the last known catalog", extra={"server": server, "reason": reason}
            )
        self._answered_once(server)

    def _apply(self, server: str, entries: list[dict[str, Any]]) -> None:
        found: dict[str, ServiceInstance] = {}
        for entry in entries:
            instance = instance_from_entry(self.consul.service_prefix, entry)
            if instance is not None and instance.server == server:
                found[instance.instance_id] = instance
        with self._lock:
            recovered = self._failing.pop(server, None) is not None
            before = self._catalog.get(server, {})
            changed = _shape(before) != _shape(found)
            if changed:
                self._catalog[server] = found
                self.updates += 1
            listeners = list(self._listeners) if changed else []
        if recovered:
            log.info("consul watch recovered", extra={"server": server})
        if changed:
            log.info(
                "consul catalog changed",
                extra={"server": server, "instances": sorted(found), "left": sorted(set(before) - set(found))},
            )
        self._answered_once(server)
        for listener in listeners:
            listener(server)


def _shape(instances: dict[str, ServiceInstance]) -> set[tuple[str, str | None, tuple[tuple[str, str], ...]]]:
    return {(i.instance_id, i.url, tuple(sorted(i.meta.items()))) for i in instances.values()}
