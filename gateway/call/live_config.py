"""Live gateway configuration from Consul KV, applied without a restart.

The key ``<kv_prefix>gateway`` (``mcp-suite/gateway`` by default) holds YAML or JSON for part of
the ``gateway`` section: ``policy``, ``servers`` (strategy, hash argument, policies per server and
tool), ``supervisors``, ``refresh_interval_seconds``, ``connect_timeout_seconds`` and
``unhealthy_after_failures``. Each key
present replaces that key of the config file's settings; absent keys keep the file's value;
deleting the KV key goes back to the file. The result is validated with the settings model: a
bad value is rejected with a logged reason and the settings in force stay. Adding or removing a
supervisor needs a restart (its endpoint is mounted at start) and is rejected here.

When the key cannot be read (Consul away, a token without ``key:read``: 403, or an answer filtered
by ACLs) the settings in force stay, live ones included: an unreadable key is not a deleted one.
``stale`` says why until the key is read again; ``gateway_status`` shows it under ``config``
(:meth:`LiveConfig.status`), so an operator sees a degraded configuration source.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import yaml
from pydantic import ValidationError

from gateway.call.service import Gateway
from gateway.settings import GatewaySettings
from mesh.config import describe_validation_error
from mesh.consul import ConsulRegistry
from mesh.consul.kv import KvEntry, watch_kv
from mesh.consul.watch import Backoff

log = logging.getLogger("mcp_suite.gateway.live_config")

LIVE_KEYS: tuple[str, ...] = (
    "policy",
    "servers",
    "supervisors",
    "refresh_interval_seconds",
    "connect_timeout_seconds",
    "unhealthy_after_failures",
)


class LiveConfigError(ValueError):
    """A KV value that cannot be applied; the message says why and what is allowed."""


def parse_live_settings(raw: bytes | None, base: GatewaySettings, *, origin: str) -> GatewaySettings:
    """``base`` with the KV value's keys applied, validated; :class:`LiveConfigError` when it cannot be used."""
    if raw is None or not raw.strip():
        return base
    try:
        data = yaml.safe_load(raw.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise LiveConfigError(f"{origin} is not valid YAML or JSON: {type(exc).__name__}") from None
    if data is None:
        return base
    if not isinstance(data, dict):
        raise LiveConfigError(f"{origin} must hold a mapping of gateway keys, not {type(data).__name__}")
    unknown = sorted(set(data) - set(LIVE_KEYS))
    if unknown:
        raise LiveConfigError(
            f"{origin}: {', '.join(unknown)} cannot change live; allowed keys: {', '.join(LIVE_KEYS)}"
        )
    merged: dict[str, Any] = {**base.model_dump(), **data}
    try:
        settings = GatewaySettings.model_validate(merged)
    except ValidationError as exc:
        raise LiveConfigError(describe_validation_error(exc, origin).replace("\n", " ")) from None
    if set(settings.supervisors) != set(base.supervisors):
        raise LiveConfigError(
            f"{origin}: supervisors {sorted(settings.supervisors)} differ from the ones served "
            f"({sorted(base.supervisors)}); adding or removing a supervisor needs a restart"
        )
    return settings


class LiveConfig:
    """Follows one KV key and applies it to a running gateway."""

    def __init__(self, gateway: Gateway, registry: ConsulRegistry, *, backoff_cap_seconds: float = 15.0) -> None:
        self.gateway = gateway
        self.registry = registry
        self.base = gateway.settings
        self.key = f"{registry.consul.kv_prefix}gateway"
        self.applied_index: int | None = None
        self.rejected: str | None = None
        self.applied = 0
        self.stale: str | None = None  # why the key could not be read last time (None once it is read)
        self._backoff_cap = backoff_cap_seconds

    def status(self) -> dict[str, Any]:
        """What ``gateway_status`` shows under ``config``: the key followed and whether it could be read."""
        return {
            "source": "consul_kv",
            "key": self.key,
            "degraded": self.stale is not None,
            "stale": self.stale,
            "rejected": self.rejected,
            "applied": self.applied,
            "applied_index": self.applied_index,
        }

    async def apply(self, entries: dict[str, KvEntry]) -> None:
        if self.stale is not None:
            log.info("live configuration readable again", extra={"key": self.key})
        self.stale = None
        entry = entries.get(self.key)
        origin = f"Consul KV {self.key}" + (f" (ModifyIndex {entry.modify_index})" if entry else "")
        try:
            settings = parse_live_settings(entry.value if entry else None, self.base, origin=origin)
        except LiveConfigError as exc:
            self.rejected = str(exc)
            log.warning("live configuration rejected; the settings in force stay", extra={"reason": str(exc)})
            return
        self.rejected = None
        if settings == self.gateway.settings:
            return
        await self.gateway.apply_settings(settings)
        self.applied += 1
        self.applied_index = entry.modify_index if entry else None
        log.info("live configuration applied", extra={"key": self.key, "modify_index": self.applied_index})

    async def run(self) -> None:
        def on_error(reason: str) -> None:
            if self.stale is None:
                log.warning("live configuration unreadable; the settings in force stay", extra={"reason": reason})
            self.stale = reason

        await watch_kv(
            self.registry.http,
            self.key,
            wait_seconds=self.registry.consul.watch_wait_seconds,
            on_change=self.apply,
            on_error=on_error,
            backoff=Backoff(cap_seconds=self._backoff_cap),
        )


@asynccontextmanager
async def live_config_running(gateway: Gateway) -> AsyncIterator[LiveConfig | None]:
    """Follow the live configuration key while the block runs, when the gateway's registry is Consul."""
    if not isinstance(gateway.registry, ConsulRegistry):
        yield None
        return
    live = LiveConfig(gateway, gateway.registry)
    file_source = gateway.config_source
    gateway.config_source = live.status
    async with anyio.create_task_group() as tg:
        tg.start_soon(live.run)
        try:
            yield live
        finally:
            tg.cancel_scope.cancel()
            gateway.config_source = file_source
