"""Events from upstream instances: their list changes and the resource updates clients subscribed to.

Each connected instance that can send events gets a watcher:

- a 2026-07-28 instance gets a ``subscriptions/listen`` stream asking for every list change and
  for updates of the URIs the gateway's clients subscribed to on that server. When that set of
  URIs changes the stream is reopened with the new filter, and the change waits for the
  upstream's acknowledgement, so an update made after a client's subscribe returns is delivered;
- a 2025-11-25 session gets ``resources/subscribe`` / ``resources/unsubscribe`` requests (when its
  capabilities say it supports them); its notifications arrive on the session.

An upstream list change asks the gateway to re-list at once (instead of at the next periodic
refresh), and so does a listen stream acknowledged again after a gap (a reopen, a break), since a
change made while it was closed was told to no one; the first listing of an instance waits for its
first stream. A resource update goes to every listener (the endpoints, which tell their clients).
Every replica of a server is watched: each reports the changes it made itself.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import anyio.abc
import httpx

from gateway.upstream.mcp_client import (
    ModernHttpUpstream,
    SessionUpstream,
    Upstream,
    UpstreamError,
    UpstreamUnavailable,
)

log = logging.getLogger("mcp_suite.gateway.events")

ResourceListener = Callable[[str, str], Awaitable[None]]
"""Called with (server, uri) when an upstream reports that the resource changed."""

_LIST_CHANGED = (
    "notifications/tools/list_changed",
    "notifications/prompts/list_changed",
    "notifications/resources/list_changed",
)
ACK_TIMEOUT_SECONDS = 5.0


def supports_resource_subscriptions(upstream: Upstream) -> bool:
    resources = upstream.capabilities.get("resources")
    return isinstance(resources, dict) and bool(resources.get("subscribe"))


def _sends_list_changes(upstream: Upstream) -> bool:
    return any(
        isinstance(upstream.capabilities.get(kind), dict) and upstream.capabilities[kind].get("listChanged")
        for kind in ("tools", "prompts", "resources")
    )


class _ListenWatcher:
    """One modern instance's listen stream, reopened with a new filter when the subscribed URIs change."""

    def __init__(self, relay: UpstreamEvents, server: str, upstream: ModernHttpUpstream) -> None:
        self.relay = relay
        self.server = server
        self.upstream = upstream
        self.scope = anyio.CancelScope()
        self._stream_scope: anyio.CancelScope | None = None
        self._acknowledged: set[str] = set()
        self._ack = anyio.Event()
        self.first_try = anyio.Event()
        """Set when the first stream was acknowledged, or failed to open."""
        self._streams = 0

    def reopen(self) -> None:
        self._ack = anyio.Event()
        if self._stream_scope is not None:
            self._stream_scope.cancel()

    async def covers(self, uri: str) -> None:
        """Wait until the upstream acknowledged a stream whose filter includes ``uri`` (or the wait runs out)."""
        if uri in self._acknowledged:
            return
        with anyio.move_on_after(ACK_TIMEOUT_SECONDS):
            await self._ack.wait()  # the reopened stream's acknowledgement

    async def run(self) -> None:
        delay = 0.2
        with self.scope:
            while True:
                wanted = sorted(self.relay.interest(self.server))
                notifications: dict[str, Any] = {
                    "toolsListChanged": True,
                    "promptsListChanged": True,
                    "resourcesListChanged": True,
                }
                if wanted and supports_resource_subscriptions(self.upstream):
                    notifications["resourceSubscriptions"] = wanted
                self._stream_scope = anyio.CancelScope()
                with self._stream_scope:
                    try:
                        await self.upstream.listen(notifications, self._on_message, self.relay.http)
                        delay = 0.2
                        await anyio.sleep(delay)  # the upstream ended the stream: listen again, not in a loop
                    except (UpstreamUnavailable, UpstreamError) as exc:
                        self.first_try.set()
                        log.debug(
                            "listen stream ended",
                            extra={"instance": self.upstream.instance.instance_id, "error": str(exc)},
                        )
                        await anyio.sleep(delay * (0.5 + random.random()))  # jittered back-off
                        delay = min(delay * 2, 5.0)

    async def _on_message(self, message: dict[str, Any]) -> None:
        method = message.get("method")
        params = message.get("params") or {}
        if method == "notifications/subscriptions/acknowledged":
            honored = (params.get("notifications") or {}).get("resourceSubscriptions") or []
            self._acknowledged = set(honored)
            self._ack.set()
            self._streams += 1
            if self._streams == 1:
                self.first_try.set()
            else:
                # The stream was closed for a while (reopened with a new filter, or broken): a change
                # the upstream made meanwhile was told to no one, so have the gateway re-list it.
                self.relay.missed(self.server)
            return
        await self.relay.dispatch(self.server, message)


class UpstreamEvents:
    """Watches every connected instance for events; tracks which URIs the gateway's clients want."""

    def __init__(self, on_list_changed: Callable[[str], None]) -> None:
        self._on_list_changed = on_list_changed
        self._interest: dict[str, Counter[str]] = {}
        self._listen: dict[str, _ListenWatcher] = {}
        self._sessions: dict[str, tuple[str, SessionUpstream]] = {}
        self._listeners: list[ResourceListener] = []
        self._tg: anyio.abc.TaskGroup | None = None
        self.http: httpx.AsyncClient | None = None

    def start(self, tg: anyio.abc.TaskGroup, http: httpx.AsyncClient | None = None) -> None:
        """Run watchers in ``tg``; listen streams use ``http`` (a client apart from the calls' pool)."""
        self._tg = tg
        self.http = http

    def on_resource_updated(self, listener: ResourceListener) -> None:
        self._listeners.append(listener)

    def interest(self, server: str) -> set[str]:
        """The URIs some client is subscribed to on ``server`` (a count reaching 0 is removed)."""
        return set(self._interest.get(server, ()))

    # ---- instances ---------------------------------------------------------------------
    def attach(self, server: str, upstream: Upstream) -> None:
        """Start watching a newly connected instance (no-op for one that sends no events)."""
        instance_id = upstream.instance.instance_id
        self.detach(instance_id)
        if isinstance(upstream, ModernHttpUpstream):
            if self._tg is None or not (_sends_list_changes(upstream) or supports_resource_subscriptions(upstream)):
                return
            watcher = _ListenWatcher(self, server, upstream)
            self._listen[instance_id] = watcher
            self._tg.start_soon(watcher.run)
        elif isinstance(upstream, SessionUpstream):

            async def on_notification(message: dict[str, Any]) -> None:
                await self.dispatch(server, message)

            upstream.on_notification = on_notification
            self._sessions[instance_id] = (server, upstream)
            if self._tg is not None and supports_resource_subscriptions(upstream):
                for uri in self.interest(server):
                    self._tg.start_soon(self._session_request, upstream, "resources/subscribe", uri)

    async def listening(self, instance_id: str, timeout: float) -> None:
        """Wait (at most ``timeout``) until the instance's first listen stream is acknowledged or failed.

        A listing taken after that misses no change: a later one comes on the stream.
        """
        watcher = self._listen.get(instance_id)
        if watcher is not None:
            with anyio.move_on_after(timeout):
                await watcher.first_try.wait()

    def missed(self, server: str) -> None:
        """``server`` may have changed its lists unheard: as good as a list change."""
        self._on_list_changed(server)

    def detach(self, instance_id: str) -> None:
        watcher = self._listen.pop(instance_id, None)
        if watcher is not None:
            watcher.scope.cancel()
        session = self._sessions.pop(instance_id, None)
        if session is not None:
            session[1].on_notification = None

    # ---- what clients subscribed to ------------------------------------------------------
    async def subscribe(self, server: str, uri: str) -> None:
        """Count one more client subscribed to ``uri``; the first one subscribes upstream and waits for it."""
        counts = self._interest.setdefault(server, Counter())
        counts[uri] += 1
        if counts[uri] == 1:
            await self._subscribe_upstream(server, uri)

    def unsubscribe(self, server: str, uri: str) -> None:
        """Count one client less on ``uri``; the last one unsubscribes upstream (in the background)."""
        counts = self._interest.get(server)
        if counts is None or counts[uri] <= 0:
            return
        counts[uri] -= 1
        if counts[uri] > 0:
            return
        del counts[uri]
        self._reopen_streams(server)
        if self._tg is not None:
            for session in self._subscribing_sessions(server):
                self._tg.start_soon(self._session_request, session, "resources/unsubscribe", uri)

    async def _subscribe_upstream(self, server: str, uri: str) -> None:
        """Reopen ``server``'s listen streams with ``uri`` and subscribe its sessions; wait for both."""
        watchers = self._reopen_streams(server)
        async with anyio.create_task_group() as tg:
            for watcher in watchers:
                if supports_resource_subscriptions(watcher.upstream):
                    tg.start_soon(watcher.covers, uri)
            for session in self._subscribing_sessions(server):
                tg.start_soon(self._session_request, session, "resources/subscribe", uri)

    def _reopen_streams(self, server: str) -> list[_ListenWatcher]:
        """Ask every listen stream of ``server`` to reopen with the current set of URIs."""
        watchers = [w for w in self._listen.values() if w.server == server]
        for watcher in watchers:
            watcher.reopen()
        return watchers

    def _subscribing_sessions(self, server: str) -> list[SessionUpstream]:
        return [s for owner, s in self._sessions.values() if owner == server and supports_resource_subscriptions(s)]

    @staticmethod
    async def _session_request(upstream: SessionUpstream, method: str, uri: str) -> None:
        try:
            await upstream.request(method, {"uri": uri}, timeout=ACK_TIMEOUT_SECONDS)
        except (UpstreamUnavailable, UpstreamError) as exc:
            log.warning(
                "upstream refused a resource subscription change",
                extra={"instance": upstream.instance.instance_id, "method": method, "error": str(exc)},
            )

    # ---- events --------------------------------------------------------------------------
    async def dispatch(self, server: str, message: dict[str, Any]) -> None:
        method = message.get("method")
        if method in _LIST_CHANGED:
            self._on_list_changed(server)
        elif method == "notifications/resources/updated":
            uri = str((message.get("params") or {}).get("uri", ""))
            if uri and uri in self._interest.get(server, ()):
                for listener in list(self._listeners):
                    try:
                        await listener(server, uri)
                    except Exception:
                        log.exception("a resource-updated listener failed")

    def close(self) -> None:
        for instance_id in list(self._listen) + list(self._sessions):
            self.detach(instance_id)
